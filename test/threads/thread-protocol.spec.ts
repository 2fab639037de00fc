import { describeValue, fromWire, toWire } from '../../lib/threads/thread-protocol.js';

describe('thread protocol', () => {
  it('carries an error across as name, message, stack and primitive own properties', () => {
    const sent = structuredClone(
      toWire(Object.assign(new RangeError('too big'), { code: 'E_BIG', detail: { x: 1 } })),
    );
    const error = fromWire(sent) as Error & { code: string; detail?: unknown };
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'RangeError', message: 'too big', code: 'E_BIG' });
    expect(error.stack).toMatch(/too big/);
    expect(error.detail).toBeUndefined();
  });

  it('passes non-errors through unchanged', () => {
    expect(toWire('plain')).toBe('plain');
    expect(fromWire({ a: 1 })).toEqual({ a: 1 });
  });

  it('never throws, whatever was thrown: a revoked proxy or an error with a throwing getter', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(fromWire(structuredClone(toWire(proxy)))).toMatchObject({
      message: expect.stringMatching(/a thrown value that cannot be read/),
    });
    const getter = Object.defineProperty(new Error('x'), 'detail', {
      enumerable: true,
      get() {
        throw new Error('no');
      },
    });
    expect(fromWire(structuredClone(toWire(getter)))).toMatchObject({
      message: expect.stringMatching(/cannot be read \(Error: no\)/),
    });
    expect(describeValue(proxy)).toMatch(/cannot be read/);
    expect(describeValue(Symbol('s'))).toBe('Symbol(s)');
    expect(describeValue({ f: () => 1 })).toBe('an object');
  });
});

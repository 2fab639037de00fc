import { Dispatcher } from '../../lib/core/index.js';
import { AGING_LIMIT, ReadyQueue } from '../../lib/core/ready-queue.js';

describe('ReadyQueue', () => {
  it('is plain FIFO while every priority is 0', () => {
    const q = new ReadyQueue<number>();
    [1, 2, 3].forEach((n) => q.push(n));
    expect([q.shift(), q.shift(), q.length, q.shift(), q.shift()]).toEqual([1, 2, 1, 3, undefined]);
  });

  it('serves the highest level first, FIFO within a level', () => {
    const q = new ReadyQueue<string>();
    q.push('a0');
    q.push('b5', 5);
    q.push('c-1', -1);
    q.push('d5', 5);
    q.push('e0');
    const out: string[] = [];
    for (let x = q.shift(); x !== undefined; x = q.shift()) out.push(x);
    expect(out).toEqual(['b5', 'd5', 'a0', 'e0', 'c-1']);
  });

  it(`bounds starvation: a lower level is served after ${AGING_LIMIT} takes from above, and middle levels take turns`, () => {
    const q = new ReadyQueue<string>();
    q.push('low', -1);
    q.push('mid', 0);
    for (let i = 0; i < 100; i++) q.push(`high${i}`, 1);
    const out: string[] = [];
    for (let i = 0; i < 2 * (AGING_LIMIT + 1); i++) out.push(q.shift()!);
    expect(out.indexOf('low')).toBeLessThanOrEqual(2 * (AGING_LIMIT + 1));
    expect(out.indexOf('mid')).toBe(AGING_LIMIT);
    expect(out.indexOf('low')).toBe(2 * AGING_LIMIT + 1);
  });

  it('puts an item back at the front of its own level', () => {
    const q = new ReadyQueue<string>();
    q.push('a0');
    q.unshift('b0');
    expect(q.shift()).toBe('b0');
    q.push('c5', 5);
    q.push('d5', 5);
    q.unshift('e5', 5);
    q.unshift('f0');
    const out: string[] = [];
    for (let x = q.shift(); x !== undefined; x = q.shift()) out.push(x);
    expect(out).toEqual(['e5', 'c5', 'd5', 'f0', 'a0']);
  });

  it('drains and finds across levels', () => {
    const q = new ReadyQueue<number>();
    q.push(1);
    q.push(2, 3);
    expect(q.find((x): x is number => x < 3)).toBe(2);
    const seen: number[] = [];
    q.drain((x) => seen.push(x));
    expect(seen).toEqual([2, 1]);
    expect(q.length).toBe(0);
  });
});

describe('priority in the dispatcher', () => {
  it('picks among ready sessions and unkeyed tasks by priority, never reordering a session', async () => {
    const pool = new Dispatcher({ lanes: 1 });
    const order: string[] = [];
    pool.registerHandler('t', (p: string) => void order.push(p));
    pool.registerHandler('urgent', (p: string) => void order.push(p), { priority: 10 });
    const work = [
      pool.submit('t', 'a1', { sessionId: 'a' }),
      pool.submit('t', 'b1', { sessionId: 'b' }),
      pool.submit('t', 'u-low', { priority: -5 }),
      pool.submit('urgent', 'c1', { sessionId: 'c' }),
      pool.submit('t', 'a2', { sessionId: 'a', priority: 100 }), // behind a1: cannot jump its session
      pool.submit('t', 'u-high', { priority: 50 }),
    ];
    pool.start();
    await Promise.all(work);
    expect(order).toEqual(['u-high', 'c1', 'a1', 'a2', 'b1', 'u-low']);
  });

  it('names a bad priority', async () => {
    const pool = new Dispatcher();
    pool.registerHandler('t', () => 1);
    await expect(pool.submit('t', null, { priority: 1.5 })).rejects.toThrow(
      /"priority": got 1.5; expected an integer from -1000 to 1000/,
    );
    expect(() => pool.registerHandler('u', () => 1, { priority: 'high' as never })).toThrow(
      /priority of "u"/,
    );
  });
});

import { getEventListeners } from 'node:events';
import {
  Dispatcher,
  InvalidOptionError,
  TaskCancelledError,
  UnknownTaskTypeError,
  WorkerPoolError,
} from '../../lib/core/index.js';
import { PayloadNotCloneableError } from '../../lib/threads/index.js';
import { deferred, flush } from '../support/deferred.js';

/** Small defects of issue 18 (item 9), each a call an adversarial user made. */

describe('bad task types', () => {
  it("submit('') as the first call of a new pool is refused with UnknownTaskTypeError", async () => {
    const pool = new Dispatcher();
    await expect(pool.submit('', null)).rejects.toBeInstanceOf(UnknownTaskTypeError);
    await expect(pool.enqueue('', null)).rejects.toBeInstanceOf(UnknownTaskTypeError);
    expect(pool.stats().accepted).toBe(0);
  });

  it.each<[string, unknown]>([
    ['a symbol', Symbol('t')],
    ['an object', { type: 't' }],
    ['a number', 7],
  ])('registerHandler with %s as its type throws InvalidOptionError naming "type"', (_, type) => {
    const pool = new Dispatcher();
    const register = () => pool.registerHandler(type as string, () => 1, { rateLimit: undefined });
    expect(register).toThrow(InvalidOptionError);
    expect(register).toThrow(/"type"/);
    expect(pool.handlerTypes()).toEqual([]);
  });
});

describe('a failure that repeats the same way on every attempt', () => {
  it('PayloadNotCloneableError is never retried, even when a per-submit retryIf says yes', async () => {
    const pool = new Dispatcher({ lanes: 1 });
    let runs = 0;
    pool.registerHandler('t', (_: unknown, ctx) => {
      runs++;
      throw new PayloadNotCloneableError(ctx.taskId, 'payload', new Error('could not be cloned'));
    });
    pool.registerHandler('other', () => {
      runs++;
      throw new Error('flaky');
    });
    pool.start();
    const retry = { attempts: 3, delayMs: 0, jitter: false, retryIf: () => true };
    await expect(pool.submit('t', null, { retry })).rejects.toBeInstanceOf(
      PayloadNotCloneableError,
    );
    expect(runs).toBe(1);
    // The rule is about that error, not about retryIf: another error is retried.
    await expect(pool.submit('other', null, { retry })).rejects.toThrow('flaky');
    expect(runs).toBe(4);
    expect(pool.stats()).toMatchObject({ retried: 2, deadLettered: 2 });
  });

  it('a WorkerPoolError marked retryable: false is never retried', async () => {
    class Fatal extends WorkerPoolError {
      override readonly retryable = false;
    }
    const pool = new Dispatcher({ lanes: 1 });
    let runs = 0;
    pool.registerHandler('t', () => {
      runs++;
      throw new Fatal('fatal');
    });
    pool.start();
    await expect(pool.submit('t', null, { retry: 3 })).rejects.toBeInstanceOf(Fatal);
    expect(runs).toBe(1);
  });
});

describe('submitMany', () => {
  it('reads each task once: a payload getter that throws on its second read changes nothing', async () => {
    const pool = new Dispatcher({ lanes: 1 });
    const got: unknown[] = [];
    pool.registerHandler('t', (p: unknown) => void got.push(p));
    pool.start();
    let reads = 0;
    const tricky = {
      type: 't',
      get payload() {
        if (++reads > 1) throw new Error('second read');
        return 'once';
      },
    };
    const results = await pool.submitMany([
      { type: 't', payload: 'a' },
      tricky,
      { type: 't', payload: 'c' },
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(got).toEqual(['a', 'once', 'c']);
    expect(reads).toBe(1);
  });

  it('is all-or-nothing when a task turns bad between the check and the submit (a type getter)', async () => {
    const pool = new Dispatcher({ lanes: 1 });
    pool.registerHandler('t', () => 1);
    pool.start();
    let reads = 0;
    const flips = {
      get type() {
        return ++reads > 1 ? 'unknown' : 't';
      },
      payload: null,
    };
    const results = await pool.submitMany([{ type: 't', payload: 1 }, flips]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(pool.stats().accepted).toBe(2);
  });
});

describe('one AbortSignal followed by many tasks', () => {
  const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

  it('carries one listener for 1,000 tasks (queued, running and waiting for room), none once they settle; an abort still reaches each', async () => {
    const pool = new Dispatcher({ lanes: 2, maxQueued: 600, whenFull: 'wait' });
    const hold = deferred();
    const cancelled: number[] = [];
    pool.registerHandler('hold', () => hold.promise);
    pool.registerHandler('t', () => 'ran');
    pool.start();
    const request = new AbortController();
    const { signal } = request;
    const held = [pool.submit('hold', null, { signal }), pool.submit('hold', null, { signal })];
    await flush();
    const work = Array.from({ length: 1_000 }, (_, i) =>
      pool
        .submit('t', i, { signal, sessionId: i % 2 ? `s${i % 7}` : undefined })
        .catch((e: unknown) => {
          if (e instanceof TaskCancelledError) cancelled.push(i);
        }),
    );
    expect(pool.stats()).toMatchObject({ running: 2, queued: 600 });
    expect(listeners(signal)).toBe(1);
    request.abort();
    await Promise.all(work);
    // Queued ones are withdrawn and waiting ones refused, in submission order.
    expect(cancelled).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    expect(listeners(signal)).toBe(0);
    hold.resolve();
    await Promise.all(held);
  });

  it('drops its listener once the last of its tasks settles', async () => {
    const pool = new Dispatcher({ lanes: 1 });
    pool.registerHandler('t', () => 'ran');
    pool.start();
    const { signal } = new AbortController();
    const work = Array.from({ length: 50 }, () => pool.submit('t', null, { signal }));
    expect(listeners(signal)).toBe(1);
    await Promise.all(work);
    expect(listeners(signal)).toBe(0);
  });

  it('group() with 50 tasks puts one listener on its signal and cancels the rest at the first failure', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const pool = new Dispatcher({ lanes: 1 });
      const gate = deferred();
      pool.registerHandler('t', async (p: number) => {
        if (p === 0) {
          await gate.promise;
          throw new Error('first fails');
        }
      });
      pool.start();
      const group = pool.group();
      for (let i = 0; i < 50; i++) void group.submit('t', i);
      expect(listeners(group.signal)).toBe(1);
      gate.resolve();
      await expect(group.wait()).rejects.toThrow('first fails');
      expect(pool.stats()).toMatchObject({ failed: 1, cancelled: 49 });
      expect(listeners(group.signal)).toBe(0);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on a tick
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

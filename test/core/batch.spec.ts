import { jest } from '@jest/globals';
import {
  type BatchContext,
  type BatchItem,
  BatchResultError,
  Dispatcher,
  InvalidOptionError,
  type HandlerRegistration,
  type PoolEvent,
  TaskAbandonedError,
  TaskCancelledError,
  TaskTimeoutError,
} from '../../lib/core/index.js';
import { deferred, flush } from '../support/deferred.js';

afterEach(() => jest.useRealTimers());

interface Call {
  at: number;
  payloads: unknown[];
  sessions: Array<string | undefined>;
  laneId: number;
}

/** A pool with one batch type 'write' whose handler records each call and doubles payloads. */
function batchPool(
  batch: { maxSize: number; maxWaitMs: number },
  lanes = 1,
  handle: (items: BatchItem<number>[], ctx: BatchContext) => unknown = (items) =>
    items.map((i) => i.payload * 2),
  extra: HandlerRegistration = {},
) {
  const pool = new Dispatcher({ lanes });
  const calls: Call[] = [];
  pool.registerHandler(
    'write',
    (items: BatchItem<number>[], ctx: BatchContext) => {
      calls.push({
        at: Date.now(),
        payloads: items.map((i) => i.payload),
        sessions: items.map((i) => i.ctx.sessionId),
        laneId: ctx.laneId,
      });
      return handle(items, ctx) as unknown[];
    },
    { batch, ...extra },
  );
  return { pool, calls };
}

describe('batch handlers', () => {
  it('starts a batch as soon as it is full, and the rest after maxWaitMs', async () => {
    jest.useFakeTimers();
    const { pool, calls } = batchPool({ maxSize: 3, maxWaitMs: 1_000 });
    pool.start();
    const t0 = Date.now();
    const results = [1, 2, 3, 4, 5, 6, 7].map((n) =>
      pool.submit('write', n, { sessionId: `s${n}` }),
    );
    await flush(50);
    expect(calls.map((c) => [c.at - t0, c.payloads])).toEqual([
      [0, [1, 2, 3]],
      [0, [4, 5, 6]],
    ]);
    expect(pool.stats()).toMatchObject({ batching: 1, queued: 1, batches: 2, completed: 6 });
    await jest.advanceTimersByTimeAsync(999);
    expect(calls).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => [c.at - t0, c.payloads])[2]).toEqual([1_000, [7]]);
    expect(await Promise.all(results)).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(pool.stats()).toMatchObject({ batches: 3, batching: 0, queued: 0, completed: 7 });
    expect(pool.stats().types.write).toMatchObject({ batches: 3, completed: 7, accepted: 7 });
    expect(jest.getTimerCount()).toBe(0);
  });

  it('counts a rate limit in tasks, each taking its token as it joins a batch', async () => {
    jest.useFakeTimers();
    const { pool, calls } = batchPool({ maxSize: 10, maxWaitMs: 250 }, 1, undefined, {
      rateLimit: { tasks: 2, intervalMs: 100 },
    });
    pool.start();
    const t0 = Date.now();
    const results = [1, 2, 3, 4, 5, 6].map((n) => pool.submit('write', n));
    await flush(50);
    expect(pool.stats()).toMatchObject({ batching: 2, rateLimited: 4 });
    await jest.advanceTimersByTimeAsync(200); // a token every 50 ms: the other four join
    expect(pool.stats()).toMatchObject({ batching: 6, rateLimited: 0 });
    expect(calls).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(50); // maxWaitMs after the first joined
    expect(calls.map((c) => [c.at - t0, c.payloads])).toEqual([[250, [1, 2, 3, 4, 5, 6]]]);
    expect(await Promise.all(results)).toEqual([2, 4, 6, 8, 10, 12]);
  });

  it('holds at most one task per session and keeps each session in order', async () => {
    jest.useFakeTimers();
    const { pool, calls } = batchPool({ maxSize: 10, maxWaitMs: 5 }, 2);
    pool.start();
    const work: Promise<unknown>[] = [];
    const sessions = ['a', 'b', 'c'];
    for (let n = 0; n < 12; n++) {
      const s = sessions[n % 3 === 0 ? 0 : n % 2 === 0 ? 1 : 2];
      work.push(pool.submit('write', n, { sessionId: s }));
    }
    await jest.advanceTimersByTimeAsync(100);
    await Promise.all(work);
    const seen = new Map<string, number[]>();
    for (const call of calls) {
      // One task per session in any batch.
      expect(new Set(call.sessions).size).toBe(call.sessions.length);
      call.sessions.forEach((s, i) =>
        seen.set(s!, [...(seen.get(s!) ?? []), call.payloads[i] as number]),
      );
    }
    for (const s of sessions) {
      const submitted = Array.from({ length: 12 }, (_, n) => n).filter(
        (n) => sessions[n % 3 === 0 ? 0 : n % 2 === 0 ? 1 : 2] === s,
      );
      expect(seen.get(s)).toEqual(submitted);
    }
  });

  it("never runs a session's next task while its batch runs", async () => {
    // One lane with room for several batches at once, and several sessions: only the lane's
    // exclusion per session (not a lane of one slot) keeps s3 and t4 out of the second batch.
    const gate = deferred();
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 4 });
    const calls: Array<Array<[string | undefined, number]>> = [];
    pool.registerHandler(
      'write',
      async (items: BatchItem<number>[]) => {
        calls.push(items.map((i) => [i.ctx.sessionId, i.payload]));
        if (items.some((i) => i.payload === 1)) await gate.promise;
        return items.map(() => 'ok');
      },
      { batch: { maxSize: 2, maxWaitMs: 1_000 } },
    );
    pool.start();
    const first = [
      pool.submit('write', 1, { sessionId: 's' }),
      pool.submit('write', 2, { sessionId: 't' }),
    ];
    await flush(20);
    expect(calls).toEqual([
      [
        ['s', 1],
        ['t', 2],
      ],
    ]);
    const rest = [
      pool.submit('write', 3, { sessionId: 's' }),
      pool.submit('write', 4, { sessionId: 't' }),
      pool.submit('write', 5, { sessionId: 'u' }),
      pool.submit('write', 6, { sessionId: 'v' }),
    ];
    await flush(20);
    // u and v fill a second batch beside the first; s and t wait for theirs to settle.
    expect(calls).toEqual([
      [
        ['s', 1],
        ['t', 2],
      ],
      [
        ['u', 5],
        ['v', 6],
      ],
    ]);
    expect(pool.stats()).toMatchObject({ running: 2, queued: 2 });
    gate.resolve();
    expect(await Promise.all([...first, ...rest])).toEqual(Array(6).fill('ok'));
    expect(calls[2]).toEqual([
      ['s', 3],
      ['t', 4],
    ]);
  });

  it('batches unkeyed tasks freely', async () => {
    jest.useFakeTimers();
    const { pool, calls } = batchPool({ maxSize: 100, maxWaitMs: 10 });
    pool.start();
    const work = [1, 2, 3, 4, 5].map((n) => pool.submit('write', n));
    await jest.advanceTimersByTimeAsync(10);
    expect(await Promise.all(work)).toEqual([2, 4, 6, 8, 10]);
    expect(calls.map((c) => c.payloads)).toEqual([[1, 2, 3, 4, 5]]);
  });

  it('settles every item of a failing batch once, each retried by its own policy', async () => {
    jest.useFakeTimers();
    let calls = 0;
    const { pool } = batchPool(
      { maxSize: 3, maxWaitMs: 0 },
      1,
      (items) => {
        calls++;
        if (calls === 1) throw new Error('bulk write failed');
        return items.map((i) => i.payload);
      },
      { retry: { attempts: 2, delayMs: 10, jitter: false } },
    );
    pool.start();
    const settled: string[] = [];
    const work = [1, 2, 3].map((n) =>
      pool.submit('write', n, {
        sessionId: `s${n}`,
        // The third task overrides the handler's retry: it fails for good at once.
        ...(n === 3 ? { retry: 1 } : {}),
        onSettled: (outcome) => settled.push(`${n}:${outcome}`),
      }),
    );
    const outcomes = Promise.allSettled(work);
    await jest.advanceTimersByTimeAsync(50);
    const [one, two, three] = await outcomes;
    expect(one).toEqual({ status: 'fulfilled', value: 1 });
    expect(two).toEqual({ status: 'fulfilled', value: 2 });
    expect(three).toMatchObject({ status: 'rejected', reason: { message: 'bulk write failed' } });
    expect(settled.sort()).toEqual(['1:completed', '2:completed', '3:failed']);
    expect(pool.stats()).toMatchObject({ completed: 2, failed: 1, retried: 2 });
  });

  it('item.fail(error) fails that item alone, retried by its own policy; the others complete with their results', async () => {
    jest.useFakeTimers();
    const retry = { attempts: 2, delayMs: 10, jitter: false };
    const { pool, calls } = batchPool(
      { maxSize: 3, maxWaitMs: 0 },
      1,
      (items) => {
        // The first call refuses item 2 (calls holds this call already).
        if (calls.length === 1) items[1]!.fail(new Error('row 2 refused'));
        return items.map((i) => i.payload * 10);
      },
      { retry },
    );
    pool.start();
    const work = [1, 2, 3].map((n) => pool.submit('write', n, { sessionId: `s${n}` }));
    await jest.advanceTimersByTimeAsync(50);
    expect(await Promise.all(work)).toEqual([10, 20, 30]);
    expect(calls.map((c) => c.payloads)).toEqual([[1, 2, 3], [2]]);
    expect(pool.stats()).toMatchObject({ completed: 3, failed: 0, retried: 1 });
  });

  it('an item failed with item.fail() keeps its own error when the call throws or returns no matching results', async () => {
    for (const ending of ['throws', 'returns one result'] as const) {
      const { pool } = batchPool({ maxSize: 2, maxWaitMs: 0 }, 1, (items) => {
        items[1]!.fail(new Error('own error'));
        if (ending === 'throws') throw new Error('call error');
        return ['one'];
      });
      pool.start();
      const [first, second] = await Promise.allSettled(
        [1, 2].map((n) => pool.submit('write', n, { sessionId: `s${n}` })),
      );
      expect(first).toMatchObject({
        status: 'rejected',
        reason: ending === 'throws' ? { message: 'call error' } : expect.any(BatchResultError),
      });
      expect(second).toMatchObject({ status: 'rejected', reason: { message: 'own error' } });
    }
  });

  it('fails every item with BatchResultError when the results do not match the items', async () => {
    const { pool } = batchPool({ maxSize: 2, maxWaitMs: 0 }, 1, () => ['only one']);
    pool.start();
    const work = [1, 2].map((n) => pool.submit('write', n, { sessionId: `s${n}` }));
    for (const r of await Promise.allSettled(work)) {
      expect(r).toMatchObject({ status: 'rejected', reason: expect.any(BatchResultError) });
    }
    const error = ((await Promise.allSettled(work))[0] as PromiseRejectedResult).reason;
    expect(error.message).toMatch(/returned 1 results for 2 items/);
  });

  it('completes every item with undefined when the handler returns nothing', async () => {
    const { pool } = batchPool({ maxSize: 2, maxWaitMs: 0 }, 1, () => undefined);
    pool.start();
    expect(await Promise.all([pool.submit('write', 1), pool.submit('write', 2)])).toEqual([
      undefined,
      undefined,
    ]);
  });

  it('withdraws a gathered task when its caller aborts, and frees its session', async () => {
    jest.useFakeTimers();
    const { pool, calls } = batchPool({ maxSize: 10, maxWaitMs: 100 });
    pool.start();
    const abort = new AbortController();
    const a1 = pool.submit('write', 1, { sessionId: 'a', signal: abort.signal });
    const a2 = pool.submit('write', 2, { sessionId: 'a' });
    const b1 = pool.submit('write', 3, { sessionId: 'b' });
    await flush(20);
    expect(pool.stats()).toMatchObject({ batching: 2, queued: 3 });
    abort.abort('changed my mind');
    await expect(a1).rejects.toBeInstanceOf(TaskCancelledError);
    // a2 joins the same batch now that a1 has left it.
    await flush(20);
    expect(pool.stats()).toMatchObject({ batching: 2, queued: 2, cancelled: 1 });
    await jest.advanceTimersByTimeAsync(100);
    expect(await Promise.all([a2, b1])).toEqual([4, 6]);
    expect(calls.map((c) => c.payloads)).toEqual([[3, 2]]);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('drops an emptied batch and its timer', async () => {
    jest.useFakeTimers();
    const { pool, calls } = batchPool({ maxSize: 10, maxWaitMs: 100 });
    pool.start();
    const abort = new AbortController();
    const t = pool.submit('write', 1, { signal: abort.signal });
    await flush(20);
    abort.abort();
    await expect(t).rejects.toBeInstanceOf(TaskCancelledError);
    expect(jest.getTimerCount()).toBe(0);
    expect(calls).toHaveLength(0);
    expect(pool.stats()).toMatchObject({ queued: 0, batching: 0, activeSessions: 0 });
  });

  it("gives a removed lane's gathered tasks back to their sessions, in order", async () => {
    jest.useFakeTimers();
    const { pool, calls } = batchPool({ maxSize: 10, maxWaitMs: 50 }, 2);
    pool.start();
    const work: Promise<unknown>[] = [];
    for (let n = 0; n < 20; n++) work.push(pool.submit('write', n, { sessionId: `s${n % 5}` }));
    work.push(pool.submit('write', 100));
    await flush(20);
    expect(pool.stats().batching).toBe(6);
    await pool.resize(1);
    await flush(20);
    expect(pool.stats()).toMatchObject({ batching: 6, queued: 21 });
    await jest.advanceTimersByTimeAsync(500);
    await Promise.all(work);
    expect(calls.every((c) => c.laneId === 0)).toBe(true);
    const bySession = new Map<string, number[]>();
    for (const c of calls)
      c.sessions.forEach((s, i) => {
        if (s !== undefined)
          bySession.set(s, [...(bySession.get(s) ?? []), c.payloads[i] as number]);
      });
    for (let s = 0; s < 5; s++)
      expect(bySession.get(`s${s}`)).toEqual([0, 1, 2, 3].map((k) => s + 5 * k));
    expect(pool.stats()).toMatchObject({ completed: 21, queued: 0, batching: 0 });
  });

  it('times out a batch: each item gets its own TaskTimeoutError and its session waits for the call', async () => {
    jest.useFakeTimers();
    const hang = deferred();
    const signals: AbortSignal[] = [];
    const { pool, calls } = batchPool(
      { maxSize: 2, maxWaitMs: 0 },
      1,
      async (items, ctx) => {
        signals.push(ctx.signal, ...items.map((i) => i.ctx.signal));
        if (items[0].payload === 1) await hang.promise;
        return items.map((i) => i.payload);
      },
      { timeoutMs: 100 },
    );
    pool.start();
    const first = [1, 2].map((n) => pool.submit('write', n, { sessionId: `s${n}` }));
    const later = pool.submit('write', 3, { sessionId: 's1' });
    const outcomes = Promise.allSettled(first);
    await jest.advanceTimersByTimeAsync(100);
    const [one, two] = await outcomes;
    expect((one as PromiseRejectedResult).reason).toMatchObject({ taskId: 1, timeoutMs: 100 });
    expect((two as PromiseRejectedResult).reason).toMatchObject({ taskId: 2 });
    expect((one as PromiseRejectedResult).reason).toBeInstanceOf(TaskTimeoutError);
    expect(signals.every((s) => s.aborted)).toBe(true);
    // s1's next task waits for the late call.
    expect(calls).toHaveLength(1);
    expect(pool.stats()).toMatchObject({ timedOut: 2, lateTasks: 2 });
    hang.resolve();
    expect(await later).toBe(3);
    expect(pool.stats()).toMatchObject({ lateTasks: 0, completed: 1 });
  });

  it('lets a drain wait for gathered tasks, and cancels them at its deadline', async () => {
    jest.useFakeTimers();
    const { pool } = batchPool({ maxSize: 10, maxWaitMs: 50 });
    pool.start();
    const early = pool.submit('write', 1, { sessionId: 'a' });
    await flush(20);
    const drained = pool.drain();
    await jest.advanceTimersByTimeAsync(50);
    expect(await early).toBe(2);
    expect(await drained).toMatchObject({ completed: 1, cancelled: 0 });

    const second = batchPool({ maxSize: 10, maxWaitMs: 500 });
    second.pool.start();
    const gathered = second.pool.submit('write', 1, { sessionId: 'a' });
    const behind = second.pool.submit('write', 2, { sessionId: 'a' });
    await flush(20);
    const report = second.pool.drain(100);
    const outcomes = Promise.allSettled([gathered, behind]);
    await jest.advanceTimersByTimeAsync(100);
    for (const r of await outcomes)
      expect(r).toMatchObject({ status: 'rejected', reason: { reason: 'shutdown' } });
    expect((await report).cancelledTasks.map((t) => t.taskId)).toEqual([1, 2]);
    expect(second.calls).toHaveLength(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('aborts a running batch at the drain deadline and abandons it after the grace period', async () => {
    jest.useFakeTimers();
    let batchSignal: AbortSignal | undefined;
    const { pool } = batchPool({ maxSize: 2, maxWaitMs: 0 }, 1, (_items, ctx) => {
      batchSignal = ctx.signal;
      return new Promise(() => undefined);
    });
    pool.start();
    const work = Promise.allSettled(
      [1, 2].map((n) => pool.submit('write', n, { sessionId: `s${n}` })),
    );
    await flush(20);
    const report = pool.drain(100, { graceMs: 50 });
    await jest.advanceTimersByTimeAsync(100);
    expect(batchSignal!.aborted).toBe(true);
    await jest.advanceTimersByTimeAsync(50);
    for (const r of await work)
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(TaskAbandonedError);
    expect((await report).abandonedTasks.map((t) => t.taskId)).toEqual([1, 2]);
  });

  it('reports each batch call on events$', async () => {
    const { pool } = batchPool({ maxSize: 2, maxWaitMs: 0 });
    const events: PoolEvent[] = [];
    pool.events$.subscribe((e) => events.push(e));
    pool.start();
    await Promise.all([1, 2].map((n) => pool.submit('write', n, { sessionId: `s${n}` })));
    expect(events.filter((e) => e.type === 'batch-started')).toEqual([
      { type: 'batch-started', taskType: 'write', laneId: 0, taskIds: [1, 2] },
    ]);
    expect(events.filter((e) => e.type === 'started')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'completed')).toHaveLength(2);
  });

  it.each([
    [{ maxSize: 0, maxWaitMs: 1 }, /batch of "x".maxSize/],
    [{ maxSize: 1.5, maxWaitMs: 1 }, /batch of "x".maxSize/],
    [{ maxSize: 2, maxWaitMs: -1 }, /batch of "x".maxWaitMs/],
    [{ maxSize: 2, maxWaitMs: Infinity }, /batch of "x".maxWaitMs/],
    [{ maxSize: 2 }, /batch of "x".maxWaitMs/],
    [{ maxSize: 2, maxWaitMs: 1, max: 3 }, /batch of "x".max"/],
    ['fast', /"batch of "x""/],
  ])('refuses the batch option %p', (batch, message) => {
    const pool = new Dispatcher();
    const register = () => pool.registerHandler('x', () => undefined, { batch: batch as never });
    expect(register).toThrow(InvalidOptionError);
    expect(register).toThrow(message);
    expect(pool.handlerTypes()).toEqual([]);
  });
});

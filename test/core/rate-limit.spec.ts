import { jest } from '@jest/globals';
import { Dispatcher, TaskCancelledError } from '../../lib/core/index.js';
import { flush } from '../support/deferred.js';

afterEach(() => jest.useRealTimers());

describe('rate limits', () => {
  it('holds a limited type back without dropping it or blocking other types', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 2 });
    const started: Array<[string, number]> = [];
    pool.registerHandler('limited', (n: number) => void started.push([`L${n}`, Date.now()]), {
      rateLimit: { tasks: 2, intervalMs: 1_000 },
    });
    pool.registerHandler('free', (n: number) => void started.push([`F${n}`, Date.now()]));
    pool.start();
    const t0 = Date.now();
    const work = [
      ...[1, 2, 3, 4, 5].map((n) => pool.submit('limited', n)),
      ...[1, 2, 3].map((n) => pool.submit('free', n)),
    ];
    await flush(50);
    expect(started.map(([p]) => p).sort()).toEqual(['F1', 'F2', 'F3', 'L1', 'L2']);
    expect(pool.stats()).toMatchObject({ queued: 3, rateLimited: 3 });
    await jest.advanceTimersByTimeAsync(1_600);
    await Promise.all(work);
    const limitedAt = started.filter(([p]) => p.startsWith('L')).map(([, at]) => at - t0);
    // A burst of 2, then one every 500 ms.
    expect(limitedAt).toEqual([0, 0, 500, 1_000, 1_500]);
    expect(pool.stats()).toMatchObject({ completed: 8, rateLimited: 0 });
    expect(jest.getTimerCount()).toBe(0);
  });

  it('hands tokens to held-back work in the order it was held back', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    const started: Array<[number, number]> = [];
    pool.registerHandler('t', (n: number) => void started.push([n, Date.now()]), {
      rateLimit: { tasks: 2, intervalMs: 100 },
    });
    pool.start();
    const t0 = Date.now();
    const work = [1, 2, 3, 4, 5, 6].map((n) => pool.submit('t', n));
    await jest.advanceTimersByTimeAsync(200);
    await Promise.all(work);
    // Not one handed back a token that the one before it was promised (it would go to the back).
    expect(started.map(([n, at]) => [n, at - t0])).toEqual([
      [1, 0],
      [2, 0],
      [3, 50],
      [4, 100],
      [5, 150],
      [6, 200],
    ]);
  });

  it('gives held-back work its place back in its lane: work queued after it does not take its token', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    const started: Array<[string, number]> = [];
    pool.registerHandler('limited', (n: number) => void started.push([`L${n}`, Date.now()]), {
      rateLimit: { tasks: 1, intervalMs: 100 },
    });
    pool.registerHandler('slow', async () => {
      started.push(['S', Date.now()]);
      await new Promise((resolve) => setTimeout(resolve, 150));
    });
    pool.start();
    const t0 = Date.now();
    const work = [pool.submit('limited', 1), pool.submit('limited', 2), pool.submit('slow', 0)];
    await jest.advanceTimersByTimeAsync(50);
    work.push(pool.submit('limited', 3)); // queued while the lane is busy
    await jest.advanceTimersByTimeAsync(300);
    await Promise.all(work);
    // L2 waited for a token (due at 100) while the lane ran S; it goes first when S ends.
    expect(started.map(([p, at]) => [p, at - t0])).toEqual([
      ['L1', 0],
      ['S', 0],
      ['L2', 150],
      ['L3', 250],
    ]);
  });

  it('keeps a session in order while it waits for tokens', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    const order: number[] = [];
    pool.registerHandler('t', (n: number) => void order.push(n), {
      rateLimit: { tasks: 1, intervalMs: 100 },
    });
    pool.start();
    const work = [1, 2, 3, 4].map((n) => pool.submit('t', n, { sessionId: 's' }));
    await jest.advanceTimersByTimeAsync(400);
    await Promise.all(work);
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('applies a pool-wide limit across types', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 2, rateLimit: { tasks: 3, intervalMs: 1_000 } });
    let ran = 0;
    pool.registerHandler('a', () => void ran++);
    pool.registerHandler('b', () => void ran++);
    pool.start();
    const work = Array.from({ length: 6 }, (_, i) =>
      pool.submit(i % 2 ? 'a' : 'b', i, { sessionId: `s${i}` }),
    );
    await flush(50);
    expect(ran).toBe(3);
    await jest.advanceTimersByTimeAsync(900);
    expect(ran).toBe(5); // one token every 333 ms
    await jest.advanceTimersByTimeAsync(200);
    await Promise.all(work);
    expect(ran).toBe(6);
  });

  it('cancels held-back work at the drain deadline and leaves no timer', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    pool.registerHandler('t', () => undefined, { rateLimit: { tasks: 1, intervalMs: 60_000 } });
    pool.start();
    const work = [1, 2, 3].map((n) =>
      pool.submit('t', n, n === 3 ? { sessionId: 'k' } : undefined).catch((e: unknown) => e),
    );
    await flush(20);
    const report = pool.drain(100);
    await jest.advanceTimersByTimeAsync(100);
    const outcomes = await Promise.all(work);
    expect(outcomes.filter((o) => o instanceof TaskCancelledError)).toHaveLength(2);
    await expect(report).resolves.toMatchObject({ completed: 0, cancelled: 2 });
    expect(pool.stats()).toMatchObject({ rateLimited: 0, queued: 0, activeSessions: 0 });
    expect(jest.getTimerCount()).toBe(0);
  });

  it('names a bad rate limit', () => {
    const pool = new Dispatcher();
    expect(() => new Dispatcher({ rateLimit: { tasks: 0, intervalMs: 1 } })).toThrow(
      /"rateLimit".*tasks: integer >= 1, intervalMs: number > 0/,
    );
    expect(() =>
      pool.registerHandler('t', () => 1, { rateLimit: { tasks: 1, per: 1 } as never }),
    ).toThrow(/rateLimit of "t"/);
  });
});

// Found by the policies property suite once it removed lanes: the abort threw inside the
// engine (its lane was gone) after marking the task done, so its caller never heard back.
describe('rate limits and lane removal', () => {
  it('cancels a parked unkeyed task whose lane was removed when its caller aborts', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    pool.registerHandler('t', () => 'ran', { rateLimit: { tasks: 1, intervalMs: 1_000 } });
    pool.start();
    const first = pool.submit('t', 1);
    const abort = new AbortController();
    const parked = pool.submit('t', 2, { signal: abort.signal });
    await flush(20);
    expect(await first).toBe('ran');
    expect(pool.stats().rateLimited).toBe(1);
    pool.addLane();
    await pool.removeLane(0);
    abort.abort('no longer needed');
    await expect(parked).rejects.toBeInstanceOf(TaskCancelledError);
    expect(pool.stats()).toMatchObject({ queued: 0, cancelled: 1, rateLimited: 0 });
    await jest.advanceTimersByTimeAsync(1_000);
    expect(pool.stats()).toMatchObject({ completed: 1, queued: 0 });
  });

  it('runs a parked unkeyed task on another lane once its own lane is gone', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    pool.registerHandler('t', (_: number, ctx) => ctx.laneId, {
      rateLimit: { tasks: 1, intervalMs: 1_000 },
    });
    pool.start();
    await pool.submit('t', 1);
    const parked = pool.submit('t', 2);
    await flush(20);
    pool.addLane();
    await pool.removeLane(0);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(await parked).toBe(1);
    expect(pool.stats().lanes.map((l) => [l.id, l.queued])).toEqual([[1, 0]]);
  });
});

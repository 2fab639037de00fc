import { jest } from '@jest/globals';
import {
  Dispatcher,
  InvalidOptionError,
  type PoolEvent,
  TaskCancelledError,
} from '../../lib/core/index.js';
import {
  DEFAULT_TASK_POLICY,
  backoffDelay,
  resolveTaskPolicy,
} from '../../lib/core/task-policy.js';
import { flush } from '../support/deferred.js';

afterEach(() => jest.useRealTimers());

/** A handler that fails the first `failures[payload]` attempts of each payload. */
function flaky(failures: Record<string, number>, log: string[]) {
  return (p: string, ctx: { attempt: number }) => {
    log.push(`${p}@${ctx.attempt}`);
    if (ctx.attempt <= (failures[p] ?? 0)) throw new Error(`${p} failed attempt ${ctx.attempt}`);
    return p;
  };
}

describe('retry with backoff', () => {
  it('keeps A-B-C in order through retries while other sessions use the lane', async () => {
    jest.useFakeTimers();
    const log: string[] = [];
    const pool = new Dispatcher({ lanes: 1 });
    pool.registerHandler('t', flaky({ A: 2 }, log), {
      retry: { attempts: 3, delayMs: 100, jitter: false },
    });
    pool.start();
    const work = [
      pool.submit('t', 'A', { sessionId: 's' }),
      pool.submit('t', 'B', { sessionId: 's' }),
      pool.submit('t', 'C', { sessionId: 's' }),
      pool.submit('t', 'X', { sessionId: 'other' }),
    ];
    await flush();
    expect(log).toEqual(['A@1', 'X@1']); // X ran on the only lane while A waits to retry
    expect(pool.stats()).toMatchObject({ retrying: 1, running: 0, retried: 1 });
    await jest.advanceTimersByTimeAsync(100);
    expect(log).toEqual(['A@1', 'X@1', 'A@2']);
    await jest.advanceTimersByTimeAsync(199);
    expect(log).toHaveLength(3); // second backoff doubles: 200 ms
    await jest.advanceTimersByTimeAsync(1);
    await expect(Promise.all(work)).resolves.toEqual(['A', 'B', 'C', 'X']);
    expect(log).toEqual(['A@1', 'X@1', 'A@2', 'A@3', 'B@1', 'C@1']);
    expect(pool.stats()).toMatchObject({
      completed: 4,
      failed: 0,
      retried: 2,
      deadLettered: 0,
      activeSessions: 0,
    });
  });

  it('fails with the last error after the last attempt, dead-letters it, and the session goes on', async () => {
    jest.useFakeTimers();
    const log: string[] = [];
    const dead: unknown[] = [];
    const pool = new Dispatcher({
      lanes: 2,
      onDeadLetter: (e, t) => dead.push([(e as Error).message, t.attempts, t.payload]),
    });
    pool.registerHandler('t', flaky({ A: 9 }, log), {
      retry: { attempts: 2, delayMs: 50, jitter: false },
    });
    const events: PoolEvent[] = [];
    pool.events$.subscribe((e) => events.push(e));
    pool.start();
    const a = pool.submit('t', 'A', { sessionId: 's' }).catch((e: Error) => e.message);
    const b = pool.submit('t', 'B', { sessionId: 's' });
    await jest.advanceTimersByTimeAsync(50);
    await expect(a).resolves.toBe('A failed attempt 2');
    await expect(b).resolves.toBe('B');
    expect(dead).toEqual([['A failed attempt 2', 2, 'A']]);
    expect(events.map((e) => e.type).filter((t) => t !== 'accepted' && t !== 'started')).toEqual([
      'retrying',
      'dead-lettered',
      'failed',
      'completed',
    ]);
    expect(pool.stats()).toMatchObject({ failed: 1, retried: 1, deadLettered: 1 });
  });

  it('retries only what retryIf accepts, and a per-task retry overrides the handler', async () => {
    jest.useFakeTimers();
    const log: string[] = [];
    const pool = new Dispatcher({ lanes: 1 });
    pool.registerHandler('t', flaky({ A: 1, B: 1 }, log), {
      retry: {
        attempts: 5,
        delayMs: 10,
        jitter: false,
        retryIf: (e) => !String((e as Error).message).startsWith('B'),
      },
    });
    pool.registerHandler('once', flaky({ C: 1 }, log));
    pool.start();
    const a = pool.submit('t', 'A');
    const b = pool.submit('t', 'B').catch(() => 'B gave up');
    const c = pool.submit('once', 'C', { retry: 2 });
    await jest.advanceTimersByTimeAsync(500);
    await expect(Promise.all([a, b, c])).resolves.toEqual(['A', 'B gave up', 'C']);
    expect(log.filter((l) => l.startsWith('B'))).toEqual(['B@1']);
    expect(log.filter((l) => l.startsWith('C'))).toEqual(['C@1', 'C@2']);
  });

  it('cancels a task waiting to retry at the drain deadline and frees its session', async () => {
    jest.useFakeTimers();
    const log: string[] = [];
    const pool = new Dispatcher({ lanes: 1 });
    pool.registerHandler('t', flaky({ A: 1 }, log), {
      retry: { attempts: 2, delayMs: 10_000, jitter: false },
    });
    pool.start();
    const a = pool.submit('t', 'A', { sessionId: 's' }).catch((e: unknown) => e);
    const b = pool.submit('t', 'B', { sessionId: 's' }).catch((e: unknown) => e);
    await flush();
    const report = pool.drain(1_000);
    await jest.advanceTimersByTimeAsync(1_000);
    const [ea, eb] = await Promise.all([a, b]);
    expect(ea).toBeInstanceOf(TaskCancelledError);
    expect(eb).toBeInstanceOf(TaskCancelledError);
    await expect(report).resolves.toMatchObject({ cancelled: 2, deadlineReached: true });
    expect(pool.stats()).toMatchObject({ retrying: 0, activeSessions: 0, cancelled: 2 });
    expect(jest.getTimerCount()).toBe(0);
  });

  it('lets a drain without deadline wait for retries to finish', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    pool.registerHandler('t', flaky({ A: 1 }, []), {
      retry: { attempts: 2, delayMs: 100, jitter: false },
    });
    pool.start();
    const a = pool.submit('t', 'A', { sessionId: 's' });
    await flush();
    const report = pool.drain();
    await jest.advanceTimersByTimeAsync(100);
    await expect(a).resolves.toBe('A');
    await expect(report).resolves.toMatchObject({ completed: 1 });
  });

  it('follows the ring when its lane is removed during the backoff, still before the next task', async () => {
    jest.useFakeTimers();
    const seen: Array<[string, number]> = [];
    const pool = new Dispatcher({ lanes: 2 });
    pool.registerHandler(
      't',
      (p: string, ctx) => {
        seen.push([`${p}@${ctx.attempt}`, ctx.laneId]);
        if (p === 'A' && ctx.attempt === 1) throw new Error('once');
      },
      { retry: { attempts: 2, delayMs: 100, jitter: false } },
    );
    pool.start();
    const work = ['A', 'B'].map((p) => pool.submit('t', p, { sessionId: 'm' }));
    await flush();
    const lane = seen[0][1];
    await pool.removeLane(lane);
    await jest.advanceTimersByTimeAsync(100);
    await Promise.all(work);
    expect(seen.map(([x]) => x)).toEqual(['A@1', 'A@2', 'B@1']);
    expect(seen[1][1]).toBe(1 - lane);
  });
});

describe('task policy', () => {
  it('computes exponential backoff, capped, with full jitter below the exact delay', () => {
    const p = resolveTaskPolicy(DEFAULT_TASK_POLICY, {
      retry: { attempts: 9, delayMs: 100, factor: 3, maxDelayMs: 1_000, jitter: false },
    });
    expect([1, 2, 3, 4].map((n) => backoffDelay(p, n))).toEqual([100, 300, 900, 1_000]);
    const j = resolveTaskPolicy(DEFAULT_TASK_POLICY, { retry: { attempts: 9, delayMs: 100 } });
    expect(backoffDelay(j, 2, () => 0.5)).toBe(100);
    expect(backoffDelay(j, 2, () => 0.999)).toBeLessThan(200);
  });

  it('names bad retry options', async () => {
    const pool = new Dispatcher();
    expect(() => pool.registerHandler('a', () => 1, { retry: 0 })).toThrow(
      /Invalid option "retry of "a".attempts": got 0; expected an integer from 1 to 9007199254740991/,
    );
    expect(() => pool.registerHandler('b', () => 1, { retry: { tries: 3 } as never })).toThrow(
      /retry of "b".tries.*known: attempts/,
    );
    expect(() =>
      pool.registerHandler('c', () => 1, { retry: { attempts: 2, factor: 0.5 } }),
    ).toThrow(/factor.*>= 1/);
    expect(() =>
      pool.registerHandler('d', () => 1, { retry: { attempts: 2, delayMs: 500, maxDelayMs: 100 } }),
    ).toThrow(/maxDelayMs.*>= delayMs \(500\)/);
    expect(() =>
      pool.registerHandler('e', () => 1, { retry: { attempts: 2, retryIf: 'x' as never } }),
    ).toThrow(/retryIf/);
    pool.registerHandler('ok', () => 1);
    await expect(pool.submit('ok', null, { retry: { attempts: -1 } })).rejects.toThrow(
      InvalidOptionError,
    );
  });
});

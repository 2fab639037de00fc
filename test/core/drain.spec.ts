import { jest } from '@jest/globals';
import { Dispatcher, PoolClosedError, TaskCancelledError } from '../../lib/core/index.js';
import { deferred, flush } from '../support/deferred.js';

afterEach(() => jest.useRealTimers());

describe('Dispatcher.drain', () => {
  it('lets queued and running tasks finish when there is time, then stops accepting', async () => {
    const pool = new Dispatcher({ lanes: 2 });
    const done: number[] = [];
    pool.registerHandler('t', async (n: number) => {
      await flush(3);
      done.push(n);
    });
    pool.start();
    const work = Array.from({ length: 50 }, (_, i) =>
      pool.submit('t', i, { sessionId: `s${i % 5}` }),
    );
    const report = await pool.drain(60_000);
    await Promise.all(work);
    expect(done).toHaveLength(50);
    expect(report).toMatchObject({
      completed: 50,
      failed: 0,
      cancelled: 0,
      deadlineReached: false,
    });
    expect(pool.stats().state).toBe('stopped');
    await expect(pool.submit('t', 99)).rejects.toThrow(PoolClosedError);
    await expect(pool.enqueue('t', 99)).rejects.toThrow(/is stopped and accepts no new tasks/);
  });

  it('at the deadline cancels what is queued, awaits what runs, and reports every task', async () => {
    jest.useFakeTimers();
    const unhandled: unknown[] = [];
    const pool = new Dispatcher({
      lanes: 2,
      onUnhandledFailure: (e, t) => unhandled.push([e, t.taskId]),
    });
    const gate = deferred();
    pool.registerHandler('slow', () => gate.promise);
    pool.start();
    const submitted = Array.from({ length: 10 }, (_, i) =>
      pool.submit('slow', i, { sessionId: `s${i % 2}` }),
    );
    const enqueued = pool.enqueue('slow', 'fire-and-forget', { sessionId: 's0' });
    await enqueued;
    const outcomes = submitted.map((p) =>
      p.then(
        () => 'completed',
        (e: unknown) => e,
      ),
    );
    await flush();
    const running = pool.stats().running;
    expect(running).toBe(2);

    let drained = false;
    const reportP = pool.drain(5_000);
    void reportP.then(() => (drained = true));
    await jest.advanceTimersByTimeAsync(4_999);
    expect(drained).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(pool.stats()).toMatchObject({ queued: 0, running: 2, state: 'draining' });
    expect(drained).toBe(false); // running tasks are awaited, not dropped
    gate.resolve();
    const report = await reportP;

    const settled = await Promise.all(outcomes);
    expect(settled.filter((o) => o === 'completed')).toHaveLength(2);
    const cancelled = settled.filter(
      (o) => o instanceof TaskCancelledError,
    ) as TaskCancelledError[];
    expect(cancelled).toHaveLength(8);
    expect(cancelled.every((e) => e.reason === 'shutdown')).toBe(true);
    expect(report).toMatchObject({
      completed: 2,
      cancelled: 9,
      runningAtDeadline: 2,
      deadlineReached: true,
    });
    expect(report.cancelledTasks.map((t) => t.taskId).sort((a, b) => a - b)).toEqual([
      3, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
    expect(pool.stats()).toMatchObject({ accepted: 11, completed: 2, cancelled: 9, failed: 0 });
    // The fire-and-forget task has no caller to reject: its cancellation is reported instead.
    expect(unhandled).toEqual([[expect.any(TaskCancelledError), 11]]);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('returns the same drain when called twice or concurrently', async () => {
    const pool = new Dispatcher();
    pool.registerHandler('t', () => undefined);
    pool.start();
    const a = pool.drain(100);
    const b = pool.drain();
    expect(a).toBe(b);
    await expect(a).resolves.toMatchObject({ completed: 0, cancelled: 0 });
    expect(pool.drain()).toBe(a);
  });

  it('runs tasks that were queued before start when drained without ever starting', async () => {
    const pool = new Dispatcher();
    pool.registerHandler('t', (n: number) => n);
    const result = pool.submit('t', 7);
    await expect(pool.drain()).resolves.toMatchObject({ completed: 1 });
    await expect(result).resolves.toBe(7);
  });

  it('rejects a negative deadline with InvalidOptionError', () => {
    const pool = new Dispatcher();
    expect(() => pool.drain(-1)).toThrow(/deadlineMs/);
  });
});

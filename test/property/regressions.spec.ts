/**
 * Engine defects found by the property suite (contract.property.spec.ts), minimised to
 * deterministic reproductions and fixed; each stays here as a plain regression test.
 */
import { jest } from '@jest/globals';
import { Dispatcher } from '../../lib/core/index.js';
import { deferred, flush } from '../support/deferred.js';

afterEach(() => jest.useRealTimers());

describe('regressions found by the property suite', () => {
  /*
   * KNOWN_DEFECTS.waiterOvertakesWaiter — per-session FIFO broken with whenFull 'wait'.
   *
   * a2 and a3 wait in the pool's wait list (pool full). When u1 starts, Admission.released()
   * moves a2 (session 'a' full) to session a's list but leaves a3 in the pool list. When a1
   * starts, released('a') promotes a2 back to the *tail* of the pool list, behind a3, and the
   * pool loop then admits a3 first: a3 runs before a2 although both were submitted to the
   * same session, a2 first.
   */
  it("whenFull 'wait': a waiter never overtakes an earlier waiter of its session", async () => {
    const pool = new Dispatcher({
      lanes: 1,
      laneConcurrency: 3,
      maxQueued: 2,
      maxQueuedPerSession: 1,
      whenFull: 'wait',
    });
    const order: string[] = [];
    pool.registerHandler('t', (name: string) => void order.push(name));
    const work = [
      pool.submit('t', 'u1'),
      pool.submit('t', 'a1', { sessionId: 'a' }),
      pool.submit('t', 'a2', { sessionId: 'a' }), // waits: pool full
      pool.submit('t', 'u2'), // waits behind a2
      pool.submit('t', 'a3', { sessionId: 'a' }), // waits behind u2
    ];
    pool.start();
    await Promise.all(work);
    expect(order.filter((n) => n.startsWith('a'))).toEqual(['a1', 'a2', 'a3']); // got a1, a3, a2
  });

  /*
   * KNOWN_DEFECTS.abortStrandsSessionWaiters — a waiter waits forever although there is room.
   *
   * a2 and a3 wait on session s's list (s full). When a1 starts, released('s') promotes a2
   * to the pool list (u2 waits there), u2 is admitted and fills the pool, a2 stays in the
   * pool list. Aborting a2 removes it, but nothing hands s's turn on to a3: s has nothing
   * queued, so no released('s') will ever come, and a3 (and every later caller of s, which
   * queues behind it) waits until drain although the pool and the session are empty.
   */
  it('aborting a waiter does not strand the later waiters of its session', async () => {
    const pool = new Dispatcher({
      lanes: 1,
      maxQueued: 2,
      maxQueuedPerSession: 1,
      whenFull: 'wait',
    });
    const gate = deferred();
    pool.registerHandler('hold', () => gate.promise);
    pool.registerHandler('t', () => undefined);
    const caller = new AbortController();
    const a1 = pool.submit('hold', 'a1', { sessionId: 's' });
    const a2 = pool.submit('t', 'a2', { sessionId: 's', signal: caller.signal }).catch(() => {});
    let a3Ran = false;
    void pool.submit('t', 'a3', { sessionId: 's' }).then(
      () => (a3Ran = true),
      () => {}, // refused by the final drain while the defect is there
    );
    const u = [pool.submit('t', 'u1'), pool.submit('t', 'u2')];
    pool.start(); // a1 starts and holds the only lane
    await flush();
    caller.abort(); // a2 leaves the pool's wait list
    gate.resolve();
    await Promise.all([a1, a2, ...u]);
    await flush();
    try {
      expect(pool.stats()).toMatchObject({ queued: 0, running: 0, waiting: 0 }); // waiting: 1
      expect(a3Ran).toBe(true);
    } finally {
      await pool.drain(0);
    }
  });

  /*
   * KNOWN_DEFECTS.preAbortedNotCounted — stats().rejected misses one kind of refusal.
   *
   * A caller whose AbortSignal fires while it waits for room is refused with
   * TaskCancelledError('aborted') and counted in `rejected`; a caller whose signal was
   * aborted before the call gets the same error but is not counted (Dispatcher.accept
   * throws before any `this.counts.rejected++`).
   */
  it('counts a call refused for an already-aborted signal in stats().rejected', async () => {
    const pool = new Dispatcher();
    pool.registerHandler('t', () => undefined);
    await expect(pool.submit('t', 1, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'TaskCancelledError',
      reason: 'aborted',
    });
    await expect(pool.enqueue('t', 2, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'TaskCancelledError',
    });
    expect(pool.stats()).toMatchObject({ accepted: 0, rejected: 2 }); // rejected: 0
  });

  /*
   * KNOWN_DEFECTS.runningNotAbortedAtDeadline — TaskContext.signal is documented to abort
   * "when the task should stop early (shutdown deadline, ...)", and Task.abort() exists, but
   * nothing calls it: at the drain deadline a running handler is awaited without being told
   * to stop, so a cooperative handler cannot shorten shutdown.
   */
  it("aborts a running handler's ctx.signal at the drain deadline", async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    let signal: AbortSignal | undefined;
    pool.registerHandler(
      'slow',
      (_: unknown, ctx) =>
        new Promise<void>((resolve) => {
          signal = ctx.signal;
          ctx.signal.addEventListener('abort', () => resolve());
          setTimeout(resolve, 60_000);
        }),
    );
    pool.start();
    const running = pool.submit('slow', null);
    await flush();
    const report = pool.drain(1_000);
    await jest.advanceTimersByTimeAsync(1_000);
    try {
      expect(signal?.aborted).toBe(true);
      expect(signal?.reason).toMatchObject({ name: 'TaskCancelledError', reason: 'deadline' });
    } finally {
      await jest.advanceTimersByTimeAsync(60_000);
      await Promise.all([running, report]);
    }
  });
});

import { jest } from '@jest/globals';
import {
  Dispatcher,
  type PoolEvent,
  TaskCancelledError,
  TaskTimeoutError,
} from '../../lib/core/index.js';
import { type Deferred, deferred, flush } from '../support/deferred.js';

afterEach(() => jest.useRealTimers());

describe('timeouts', () => {
  it('settles a timed-out task at once, aborts its signal, and holds its session until the handler returns', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    const late = deferred();
    const log: string[] = [];
    let signal: AbortSignal | undefined;
    pool.registerHandler(
      't',
      async (p: string, ctx) => {
        log.push(`start ${p}`);
        if (p === 'slow') {
          signal = ctx.signal;
          await late.promise; // ignores its signal
        }
        log.push(`end ${p}`);
      },
      { timeoutMs: 1_000 },
    );
    pool.start();
    const slow = pool.submit('t', 'slow', { sessionId: 's' }).catch((e: unknown) => e);
    const next = pool.submit('t', 'next', { sessionId: 's' });
    const other = pool.submit('t', 'other', { sessionId: 'x' });
    await flush();
    expect(log).toEqual(['start slow']);
    await jest.advanceTimersByTimeAsync(1_000);
    const error = await slow;
    expect(error).toBeInstanceOf(TaskTimeoutError);
    expect(error).toMatchObject({
      timeoutMs: 1_000,
      message: expect.stringMatching(/timed out after 1000 ms/),
    });
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(error);
    await other; // the lane is free for other sessions ...
    expect(log).toEqual(['start slow', 'start other', 'end other']); // ... but not for the session
    expect(pool.stats()).toMatchObject({ timedOut: 1, failed: 0, activeSessions: 1 });
    late.resolve();
    await next;
    expect(log).toEqual([
      'start slow',
      'start other',
      'end other',
      'end slow',
      'start next',
      'end next',
    ]);
    expect(pool.stats().activeSessions).toBe(0);
  });

  it('lets the next task start at the timeout with overlapOnTimeout, and a drain waits for the late handler', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    const late = deferred();
    const log: string[] = [];
    pool.registerHandler('t', async (p: string) => {
      log.push(`start ${p}`);
      if (p === 'slow') await late.promise;
    });
    pool.start();
    const slow = pool
      .submit('t', 'slow', { sessionId: 's', timeoutMs: 50, overlapOnTimeout: true })
      .catch((e: unknown) => e);
    const next = pool.submit('t', 'next', { sessionId: 's' });
    await jest.advanceTimersByTimeAsync(50);
    await expect(slow).resolves.toBeInstanceOf(TaskTimeoutError);
    await next;
    expect(log).toEqual(['start slow', 'start next']);
    let drained = false;
    const report = pool.drain().then((r) => ((drained = true), r));
    await flush();
    expect(drained).toBe(false);
    late.resolve();
    // Both outcomes were settled before the drain began; it only waited for the late handler.
    await expect(report).resolves.toMatchObject({ completed: 0, failed: 0, cancelled: 0 });
    expect(pool.stats()).toMatchObject({ timedOut: 1, completed: 1, state: 'stopped' });
  });

  it('retries a timed-out attempt only after the late handler has returned', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    const gates: Deferred[] = [];
    const log: string[] = [];
    pool.registerHandler(
      't',
      async (_: unknown, ctx) => {
        log.push(`start ${ctx.attempt}`);
        if (ctx.attempt === 1) {
          const g = deferred();
          gates.push(g);
          await g.promise;
        }
        log.push(`end ${ctx.attempt}`);
        return ctx.attempt;
      },
      { timeoutMs: 100, retry: { attempts: 2, delayMs: 10, jitter: false } },
    );
    const events: string[] = [];
    pool.events$.subscribe((e: PoolEvent) => events.push(e.type));
    pool.start();
    const result = pool.submit('t', null, { sessionId: 's' });
    await jest.advanceTimersByTimeAsync(500);
    expect(log).toEqual(['start 1']); // no overlap with the late first attempt
    gates[0].resolve();
    await jest.advanceTimersByTimeAsync(10);
    await expect(result).resolves.toBe(2);
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2']);
    expect(events).toEqual(['accepted', 'started', 'retrying', 'started', 'completed']);
  });

  it('does not time out a handler that finishes in time, and leaves no timer behind', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher();
    pool.registerHandler('t', (n: number) => n + 1, { timeoutMs: 10_000 });
    pool.start();
    await expect(pool.submit('t', 1)).resolves.toBe(2);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('names a bad timeout', async () => {
    const pool = new Dispatcher();
    expect(() => pool.registerHandler('a', () => 1, { timeoutMs: 0 })).toThrow(
      /Invalid option "timeoutMs of "a"": got 0/,
    );
    pool.registerHandler('b', () => 1);
    await expect(pool.submit('b', null, { timeoutMs: -5 })).rejects.toThrow(
      /"timeoutMs": got -5; expected a number of milliseconds > 0/,
    );
    await expect(pool.submit('b', null, { overlapOnTimeout: 'yes' as never })).rejects.toThrow(
      /overlapOnTimeout/,
    );
  });
});

describe("the caller's AbortSignal", () => {
  it('withdraws a queued task (and only it) from its session', async () => {
    const pool = new Dispatcher({ lanes: 1 });
    const gate = deferred();
    const log: string[] = [];
    pool.registerHandler('t', async (p: string) => {
      log.push(p);
      if (p === 'a') await gate.promise;
    });
    pool.start();
    const c = new AbortController();
    const a = pool.submit('t', 'a', { sessionId: 's' });
    const b = pool.submit('t', 'b', { sessionId: 's', signal: c.signal });
    const d = pool.submit('t', 'd', { sessionId: 's' });
    await flush();
    c.abort(new Error('never mind'));
    await expect(b).rejects.toMatchObject({
      name: 'TaskCancelledError',
      reason: 'aborted',
      cause: new Error('never mind'),
    });
    expect(pool.stats()).toMatchObject({ queued: 1, cancelled: 1 });
    gate.resolve();
    await Promise.all([a, d]);
    expect(log).toEqual(['a', 'd']);
    expect(pool.stats()).toMatchObject({ activeSessions: 0, completed: 2, cancelled: 1 });
  });

  it('withdraws an unkeyed task and the last task of an idle session', async () => {
    const pool = new Dispatcher({ lanes: 1 });
    const ran: string[] = [];
    pool.registerHandler('t', (p: string) => void ran.push(p));
    const c1 = new AbortController();
    const c2 = new AbortController();
    const u = pool.submit('t', 'u', { signal: c1.signal }).catch((e: unknown) => e);
    const k = pool.submit('t', 'k', { sessionId: 'k', signal: c2.signal }).catch((e: unknown) => e);
    c1.abort();
    c2.abort();
    expect(pool.stats()).toMatchObject({ queued: 0, activeSessions: 0, cancelled: 2 });
    pool.start();
    await expect(u).resolves.toBeInstanceOf(TaskCancelledError);
    await expect(k).resolves.toBeInstanceOf(TaskCancelledError);
    await expect(pool.submit('t', 'k2', { sessionId: 'k' })).resolves.toBeUndefined();
    expect(ran).toEqual(['k2']);
  });

  it('aborts ctx.signal of a running task and lets its handler decide', async () => {
    const pool = new Dispatcher();
    pool.registerHandler(
      't',
      (_: unknown, ctx) =>
        new Promise((_resolve, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
        ),
    );
    pool.start();
    const c = new AbortController();
    const run = pool.submit('t', null, { signal: c.signal });
    await flush();
    c.abort(new Error('stop'));
    await expect(run).rejects.toThrow('stop');
    expect(pool.stats()).toMatchObject({ failed: 1, cancelled: 0 });
  });

  it('cancels a task waiting to retry and frees its session', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    const log: string[] = [];
    pool.registerHandler(
      't',
      (p: string) => {
        log.push(p);
        if (p === 'a') throw new Error('fail');
      },
      { retry: { attempts: 3, delayMs: 1_000, jitter: false } },
    );
    pool.start();
    const c = new AbortController();
    const a = pool.submit('t', 'a', { sessionId: 's', signal: c.signal }).catch((e: unknown) => e);
    const b = pool.submit('t', 'b', { sessionId: 's' });
    await flush();
    expect(pool.stats().retrying).toBe(1);
    c.abort();
    await expect(a).resolves.toBeInstanceOf(TaskCancelledError);
    await b;
    expect(log).toEqual(['a', 'b']);
    expect(pool.stats()).toMatchObject({ retrying: 0, activeSessions: 0 });
    expect(jest.getTimerCount()).toBe(0);
  });
});

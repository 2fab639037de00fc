import { jest } from '@jest/globals';
import { Dispatcher, TaskAbandonedError } from '../../lib/core/index.js';
import { flush } from '../support/deferred.js';

afterEach(() => jest.useRealTimers());

describe('forced drain', () => {
  it('resolves within deadline + grace with a hung handler, abandoning it and ignoring its late settlement', async () => {
    jest.useFakeTimers();
    const unhandled: unknown[] = [];
    const pool = new Dispatcher({
      lanes: 1,
      laneConcurrency: 2,
      onUnhandledFailure: (e) => unhandled.push(e),
    });
    let finishLate: ((v: string) => void) | undefined;
    let signal: AbortSignal | undefined;
    pool.registerHandler('hung', (_: unknown, ctx) => {
      signal = ctx.signal;
      return new Promise<string>((resolve) => (finishLate = resolve)); // ignores its signal
    });
    pool.registerHandler('quick', () => 'ok');
    pool.start();
    const hung = pool.submit('hung', null, { sessionId: 's' }).catch((e: unknown) => e);
    const fireAndForget = pool.enqueue('hung', null, { sessionId: 't' });
    const queued = pool.submit('quick', null, { sessionId: 's' }).catch((e: unknown) => e);
    await fireAndForget;
    await flush();

    let report: Awaited<ReturnType<Dispatcher['drain']>> | undefined;
    void pool.drain(1_000, { graceMs: 2_000 }).then((r) => (report = r));
    await jest.advanceTimersByTimeAsync(1_000);
    expect(signal?.aborted).toBe(true);
    expect(report).toBeUndefined();
    await jest.advanceTimersByTimeAsync(1_999);
    expect(report).toBeUndefined();
    await jest.advanceTimersByTimeAsync(1);
    expect(report).toMatchObject({
      deadlineReached: true,
      cancelled: 1,
      abandonedTasks: [
        { taskId: 1, type: 'hung', sessionId: 's' },
        { taskId: 2, type: 'hung', sessionId: 't' },
      ],
    });
    const error = await hung;
    expect(error).toBeInstanceOf(TaskAbandonedError);
    expect((error as Error).message).toMatch(/still running 2000 ms after the drain deadline/);
    expect(await queued).toMatchObject({ name: 'TaskCancelledError', reason: 'shutdown' });
    expect(unhandled).toEqual([expect.any(TaskAbandonedError)]);
    expect(pool.stats()).toMatchObject({
      state: 'stopped',
      abandoned: 2,
      running: 0,
      activeSessions: 0,
    });

    finishLate!('too late');
    await flush();
    expect(pool.stats()).toMatchObject({ lateSettlements: 1, completed: 0 });
    expect(jest.getTimerCount()).toBe(0);
  });

  it('also abandons a handler running on past its timeout', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher();
    pool.registerHandler('hung', () => new Promise(() => undefined), { timeoutMs: 100 });
    pool.start();
    const run = pool.submit('hung', null, { sessionId: 's' }).catch((e: unknown) => e);
    await jest.advanceTimersByTimeAsync(100);
    expect(await run).toMatchObject({ name: 'TaskTimeoutError' });
    const report = pool.drain(0, { graceMs: 0 });
    await jest.advanceTimersByTimeAsync(10); // two timers of 0 ms (Node runs them at >= 1 ms)
    await expect(report).resolves.toMatchObject({ abandonedTasks: [] });
    expect(pool.stats()).toMatchObject({ lateTasks: 0, activeSessions: 0, state: 'stopped' });
  });

  it('lets a removed lane go when its hung handler is abandoned, and only once', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 2 });
    const gone: number[] = [];
    pool.watchLanes({
      added: () => undefined,
      removed: () => undefined,
      gone: (id) => gone.push(id),
    });
    let finishLate: (() => void) | undefined;
    pool.registerHandler('hung', (_: unknown, ctx) =>
      ctx.laneId === 1 ? new Promise<void>((resolve) => (finishLate = resolve)) : undefined,
    );
    pool.start();
    // A session the ring puts on lane 1.
    let id = 0;
    let onLane1: Promise<unknown> | undefined;
    while (finishLate === undefined) {
      onLane1 = pool.submit('hung', null, { sessionId: `s${id++}` }).catch((e: unknown) => e);
      await flush();
    }
    let removed = false;
    void pool.removeLane(1).then(() => (removed = true));
    await flush();
    expect(removed).toBe(false); // its running task finishes first

    const report = pool.drain(0, { graceMs: 10 });
    await jest.advanceTimersByTimeAsync(10);
    await expect(report).resolves.toMatchObject({ abandonedTasks: [expect.anything()] });
    expect(removed).toBe(true);
    expect(gone).toEqual([1]);
    expect(await onLane1).toBeInstanceOf(TaskAbandonedError);

    const busy = pool.stats().busyMs;
    finishLate!();
    await flush();
    expect(gone).toEqual([1]); // not retired a second time when the handler returns
    expect(pool.stats()).toMatchObject({ lateSettlements: 1 });
    expect(pool.stats().busyMs).toBe(busy);
  });

  // Found by the contract model: a lane removed after the drain waited for the handler.
  it('removes at once, after a forced drain, a lane whose abandoned handler still runs', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 2 });
    let laneOfHung = -1;
    pool.registerHandler('hung', (_: unknown, ctx) => {
      laneOfHung = ctx.laneId;
      return new Promise(() => undefined);
    });
    pool.start();
    const run = pool.submit('hung', null, { sessionId: 's' }).catch((e: unknown) => e);
    await flush();
    const report = pool.drain(0, { graceMs: 10 });
    await jest.advanceTimersByTimeAsync(11);
    await expect(report).resolves.toMatchObject({ abandonedTasks: [expect.anything()] });
    expect(await run).toBeInstanceOf(TaskAbandonedError);
    let removed = false;
    void pool.removeLane(laneOfHung).then(() => (removed = true));
    await flush();
    expect(removed).toBe(true);
    expect(pool.stats().lanes.find((l) => l.id === laneOfHung)).toBeUndefined();
  });

  it('waits forever with graceMs: Infinity, and names a bad grace', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    let finish: ((v: string) => void) | undefined;
    let signal: AbortSignal | undefined;
    pool.registerHandler('hung', (_: unknown, ctx) => {
      signal = ctx.signal;
      return new Promise<string>((resolve) => (finish = resolve)); // ignores its signal
    });
    pool.start();
    const hung = pool.submit('hung', null, { sessionId: 's' });
    await flush();
    let report: Awaited<ReturnType<Dispatcher['drain']>> | undefined;
    void pool.drain(1_000, { graceMs: Infinity }).then((r) => (report = r));
    await jest.advanceTimersByTimeAsync(1_000);
    expect(signal?.aborted).toBe(true);
    // Far past any grace a timer could hold (2^31 - 1 ms, about 24.8 days): still waiting.
    await jest.advanceTimersByTimeAsync(2 ** 31 + 1_000);
    expect(report).toBeUndefined();
    expect(pool.stats()).toMatchObject({ state: 'draining', running: 1, abandoned: 0 });
    finish!('at last');
    expect(await hung).toBe('at last');
    await flush();
    expect(report).toMatchObject({ deadlineReached: true, abandonedTasks: [] });
    expect(pool.stats()).toMatchObject({ state: 'stopped', completed: 1, abandoned: 0 });
    expect(() => new Dispatcher().drain(10, { graceMs: -1 })).toThrow(/"graceMs": got -1/);
  });
});

import { jest } from '@jest/globals';
import {
  Dispatcher,
  InvalidOptionError,
  TaskCancelledError,
  type TaskContext,
  TaskTimeoutError,
} from '../../lib/core/index.js';
import { flush } from '../support/deferred.js';

afterEach(() => jest.useRealTimers());

// What a proxy handler (one that runs its task elsewhere) hears through onAbort.
function proxyPool() {
  const heard: Array<{ taskId: number; attempt: number; reason: unknown; signalAborted: boolean }> =
    [];
  const release = new Map<number, () => void>();
  const pool = new Dispatcher({ lanes: 1, laneConcurrency: 4 });
  pool.registerHandler(
    'remote',
    (_: unknown, ctx: TaskContext) =>
      new Promise<string>((resolve) => release.set(ctx.taskId, () => resolve('done'))),
    {
      retry: { attempts: 2, delayMs: 0 },
      onAbort: (ctx, reason) =>
        heard.push({
          taskId: ctx.taskId,
          attempt: ctx.attempt,
          reason,
          signalAborted: ctx.signal.aborted,
        }),
    },
  );
  pool.start();
  return { pool, heard, release };
}

describe('onAbort (a proxy handler hears every stop)', () => {
  it('hears a timeout once per attempt, after ctx.signal aborted', async () => {
    jest.useFakeTimers();
    const { pool, heard, release } = proxyPool();
    const run = pool.submit('remote', null, { timeoutMs: 100 }).catch((e: unknown) => e);
    await jest.advanceTimersByTimeAsync(100); // attempt 1 times out
    release.get(1)!(); // its late call returns: the retry starts
    await jest.advanceTimersByTimeAsync(100); // and times out too
    release.get(1)!();
    expect(await run).toBeInstanceOf(TaskTimeoutError);
    expect(heard).toEqual([
      { taskId: 1, attempt: 1, reason: expect.any(TaskTimeoutError), signalAborted: true },
      { taskId: 1, attempt: 2, reason: expect.any(TaskTimeoutError), signalAborted: true },
    ]);
  });

  it("hears its caller's abort of a running task, and nothing of tasks not running", async () => {
    const { pool, heard, release } = proxyPool();
    const caller = new AbortController();
    const running = pool.submit('remote', 1, { sessionId: 's', signal: caller.signal });
    const queuedCaller = new AbortController();
    const queued = pool
      .submit('remote', 2, { sessionId: 's', signal: queuedCaller.signal })
      .catch((e: unknown) => e);
    await flush();
    queuedCaller.abort('not needed'); // withdrawn before it started
    caller.abort('stop');
    caller.abort('again'); // a second abort is not heard again
    expect(heard).toEqual([{ taskId: 1, attempt: 1, reason: 'stop', signalAborted: true }]);
    expect(await queued).toBeInstanceOf(TaskCancelledError);
    release.get(1)!();
    await expect(running).resolves.toBe('done'); // the handler decides the outcome
  });

  it('hears the drain deadline for a task with neither timeout nor signal', async () => {
    jest.useFakeTimers();
    const { pool, heard, release } = proxyPool();
    const run = pool.submit('remote', null);
    await flush();
    const report = pool.drain(50);
    await jest.advanceTimersByTimeAsync(50);
    expect(heard).toEqual([
      { taskId: 1, attempt: 1, reason: expect.any(TaskCancelledError), signalAborted: true },
    ]);
    release.get(1)!();
    await expect(run).resolves.toBe('done');
    await expect(report).resolves.toMatchObject({ completed: 1, deadlineReached: true });
  });

  it('must be a function', () => {
    const pool = new Dispatcher();
    expect(() => pool.registerHandler('x', () => 1, { onAbort: 'no' as never })).toThrow(
      InvalidOptionError,
    );
  });
});

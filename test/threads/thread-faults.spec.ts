import { filter, firstValueFrom } from 'rxjs';
import { Dispatcher, TaskCancelledError } from '../../lib/core/index.js';
import { PayloadNotCloneableError, ThreadLanes } from '../../lib/index.js';
import { failure } from '../support/errors.js';

// A fault of one task in thread mode (its caller's abort reason, its payload, its result)
// stays with that task: the process, the thread, its other tasks and its session state go on.
const FAULTS_MODULE = new URL('../../dist/test/fixtures/threads/faults.module.js', import.meta.url);

async function threadPool(lanes: number) {
  const pool = new Dispatcher({ lanes, laneConcurrency: 8 });
  const threads = new ThreadLanes(pool, { module: FAULTS_MODULE });
  await threads.start();
  pool.start();
  return { pool, threads };
}

/** Resolves once task `taskId` has started (so an abort reaches its ctx.signal). */
function started(pool: Dispatcher, count: number): Promise<unknown> {
  let seen = 0;
  return firstValueFrom(pool.events$.pipe(filter((e) => e.type === 'started' && ++seen === count)));
}

function gate() {
  const flag = new SharedArrayBuffer(4);
  return {
    flag,
    release() {
      Atomics.store(new Int32Array(flag), 0, 1);
      Atomics.notify(new Int32Array(flag), 0);
    },
  };
}

describe('thread mode: a fault stays with its own task', () => {
  let pool: Dispatcher;
  let threads: ThreadLanes;
  beforeEach(async () => ({ pool, threads } = await threadPool(1)));
  afterEach(async () => {
    await pool.drain();
    await threads.close();
  });

  it.each([
    ['a function', { handler: () => 1 }, /object/],
    ['a Symbol', Symbol('why'), /Symbol\(why\)/],
    [
      'an object with a throwing getter',
      {
        get x() {
          throw new Error('no');
        },
      },
      /object/,
    ],
  ])(
    "aborts the thread's ctx.signal with a named stand-in when the caller's reason (%s) cannot be cloned",
    async (_, reason, described) => {
      const thread = threads.threadIds().get(0);
      const ac = new AbortController();
      const run = pool.submit<any>('reason', null, { sessionId: 'r', signal: ac.signal });
      await started(pool, 1);
      ac.abort(reason);
      const seen = await run;
      expect(seen).toMatchObject({
        name: 'AbortReasonNotCloneableError',
        code: 'ABORT_REASON_NOT_CLONEABLE',
      });
      expect(seen.message).toMatch(described);
      expect(seen.threadId).toBe(thread);
      expect(pool.stats().threads![0].replaced).toBe(0);
    },
  );

  it("passes a cloneable reason as it is, and an Error's name, message and code", async () => {
    for (const [reason, expected] of [
      [{ why: 'page closed' }, { name: undefined }],
      [
        Object.assign(new RangeError('closed'), { code: 'E_GONE', fn: () => 1 }),
        {
          name: 'RangeError',
          message: 'closed',
          code: 'E_GONE',
        },
      ],
    ] as const) {
      const ac = new AbortController();
      const run = pool.submit<any>('reason', null, { signal: ac.signal });
      await started(pool, 1);
      ac.abort(reason);
      expect(await run).toMatchObject(expected);
    }
  });

  it("settles a task whose handler rejects with its ctx.signal.reason with the main thread's own reason: the caller's object (one the thread got a stand-in for too), a drain deadline's TaskCancelledError", async () => {
    class PageClosed extends Error {}
    for (const reason of [new PageClosed('page closed'), Symbol('why')]) {
      const ac = new AbortController();
      const run = pool.submit('rethrow-reason', null, { signal: ac.signal });
      await started(pool, 1);
      ac.abort(reason);
      expect(await failure(() => run)).toBe(reason);
    }
    const cut = pool.submit('rethrow-reason', null, { sessionId: 'cut' });
    await started(pool, 1);
    const drained = pool.drain(0);
    const error = await failure(() => cut);
    // Its class kept: a cluster's fetcher hands such a task back to its queue (see ShardFetcher).
    expect(error).toBeInstanceOf(TaskCancelledError);
    expect(error).toMatchObject({ reason: 'deadline' });
    expect(await drained).toMatchObject({ runningAtDeadline: 1, abandonedTasks: [] });
  });

  it('fails only the task whose payload getter throws, not the others sent in the same batch', async () => {
    const bad = {
      get x(): number {
        throw new Error('getter refused');
      },
    };
    // Submitted in one turn: one message carries them all to the thread.
    const results = await Promise.allSettled([
      pool.submit('count', null, { sessionId: 'a' }),
      pool.submit('count', bad, { sessionId: 'b' }),
      pool.submit('count', null, { sessionId: 'c' }),
      pool.submit('count', null),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    const error = (results[1] as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(PayloadNotCloneableError);
    expect(error).toMatchObject({ what: 'payload', code: 'PAYLOAD_NOT_CLONEABLE' });
    expect(error.message).toMatch(/getter refused/);
  });

  it("fails only the task whose result getter throws: the thread, a task beside it and the lane's session state go on", async () => {
    const thread = threads.threadIds().get(0);
    expect(await pool.submit('count', null, { sessionId: 's' })).toMatchObject({
      n: 1,
      arrived: true,
    });
    const g = gate();
    const bystander = pool.submit('wait', g.flag, { sessionId: 'other' });
    await started(pool, 1);
    const error = await failure(() => pool.submit('throwing-result', null, { sessionId: 'x' }));
    expect(error).toBeInstanceOf(PayloadNotCloneableError);
    expect(error).toMatchObject({ what: 'result' });
    expect((error as Error).message).toMatch(/getter refused/);
    // The same thread, with the session's state: not a replacement that starts over.
    expect(await pool.submit('count', null, { sessionId: 's' })).toMatchObject({
      n: 2,
      arrived: false,
      threadId: thread,
    });
    g.release();
    expect(await bystander).toBe(thread);
    expect(pool.stats().threads![0]).toMatchObject({ threadId: thread, replaced: 0 });
  });
});

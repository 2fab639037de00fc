import { rmSync, writeFileSync } from 'node:fs';
import { Dispatcher } from '../../lib/core/index.js';
import {
  InvalidOptionError,
  PayloadNotCloneableError,
  TaskTimeoutError,
  ThreadLanes,
  ThreadStartError,
  UnknownTaskTypeError,
  WorkerThreadExitedError,
  transfer,
} from '../../lib/index.js';
import { failure } from '../support/errors.js';
import { COUNTER_MODULE, gate, laneOf, sessionsOn } from '../support/threads.js';

// The engine in thread mode, without Nest in the main thread: real worker threads that
// boot the fixture module from dist.
async function threadPool(lanes: number, extra: object = {}) {
  const pool = new Dispatcher({ lanes, laneConcurrency: 8 });
  const threads = new ThreadLanes(pool, { module: COUNTER_MODULE, ...extra });
  await threads.start();
  pool.start();
  return { pool, threads };
}

describe('ThreadLanes', () => {
  let pool: Dispatcher;
  let threads: ThreadLanes;
  beforeAll(async () => ({ pool, threads } = await threadPool(2)));
  afterAll(async () => {
    await pool.drain();
    await threads.close();
    expect(threads.liveThreads).toBe(0);
  });

  it('registers the types the threads report and runs tasks there with a context', async () => {
    expect(pool.handlerTypes()).toEqual(expect.arrayContaining(['echo', 'count', 'spin']));
    const [id] = sessionsOn(1, [0, 1], 1, 'ctx');
    const r = await pool.submit<any>('echo', { a: 1 }, { sessionId: id });
    expect(r).toMatchObject({
      payload: { a: 1 },
      type: 'echo',
      sessionId: id,
      attempt: 1,
      laneId: 1,
      arrived: true,
    });
    expect(r.threadId).toBe(threads.threadIds().get(1));
    expect((await pool.submit<any>('echo', 2, { sessionId: id })).arrived).toBe(false);
    expect(await failure(() => pool.submit('nope', 1))).toBeInstanceOf(UnknownTaskTypeError);
  });

  it('fails only the task whose payload cannot be cloned, without retrying it', async () => {
    const retried = pool.stats().retried;
    const results = await Promise.allSettled([
      pool.submit('echo', 1),
      pool.submit('echo', { f: () => 1 }, { retry: 3 }),
      pool.submit('echo', 3),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const error = (results[1] as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(PayloadNotCloneableError);
    expect(error).toMatchObject({ what: 'payload', code: 'PAYLOAD_NOT_CLONEABLE' });
    expect(pool.stats().retried).toBe(retried);
  });

  it('fails a task whose result cannot be cloned, and passes handler errors with name, message and code', async () => {
    expect(await failure(() => pool.submit('unsendable', 1))).toMatchObject({
      name: 'PayloadNotCloneableError',
      what: 'result',
    });
    expect(await failure(() => pool.submit('fail', 1))).toMatchObject({
      name: 'TypeError',
      message: 'bad input',
      code: 'E_BAD',
    });
  });

  it('moves transferred buffers both ways', async () => {
    const buf = new Uint8Array([1, 2, 3]).buffer;
    const back = await pool.submit<ArrayBuffer>('bytes', transfer(buf, [buf]));
    expect(buf.byteLength).toBe(0); // moved, not copied
    expect([...new Uint8Array(back)]).toEqual([1, 2, 3]);
  });

  it('lets a timed-out handler that follows ctx.signal stop within the grace period, keeping its thread', async () => {
    const { pool: p, threads: t } = await threadPool(1, { graceMs: 60_000 });
    const before = t.threadIds().get(0);
    const run = p.submit('await-abort', 1, { sessionId: 'g', timeoutMs: 20 });
    expect(await failure(() => run)).toBeInstanceOf(TaskTimeoutError);
    // The session waits for the late handler, so its next task runs after it stopped.
    const next = await p.submit<any>('echo', 1, { sessionId: 'g' });
    expect(next.threadId).toBe(before);
    expect(p.stats().threads![0]).toMatchObject({ laneId: 0, threadId: before, replaced: 0 });
    await p.drain();
    await t.close();
  });

  it('replaces a thread that runs out of memory under resourceLimits; the running task fails with a named error', async () => {
    const { pool: p, threads: t } = await threadPool(1, {
      resourceLimits: { maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 4 },
    });
    const before = t.threadIds().get(0);
    const error = (await failure(() =>
      p.submit('crash', 'oom', { sessionId: 'm' }),
    )) as WorkerThreadExitedError;
    expect(error).toBeInstanceOf(WorkerThreadExitedError);
    expect((error.cause as { code?: string }).code).toBe('ERR_WORKER_OUT_OF_MEMORY');
    const after = await p.submit<any>('echo', 1, { sessionId: 'm' });
    expect(after.threadId).not.toBe(before);
    expect(after.arrived).toBe(true);
    await p.drain();
    await t.close();
    expect(t.liveThreads).toBe(0);
  });

  it('fails start with ThreadStartError for a module that cannot be loaded, leaving no thread', async () => {
    const p = new Dispatcher({ lanes: 2 });
    const t = new ThreadLanes(p, { module: new URL('./missing.module.js', COUNTER_MODULE) });
    const error = await failure(() => t.start());
    expect(error).toBeInstanceOf(ThreadStartError);
    expect((error as Error).message).toMatch(/missing\.module\.js/);
    expect(t.liveThreads).toBe(0);
    const wrongExport = new ThreadLanes(new Dispatcher({ lanes: 1 }), {
      module: COUNTER_MODULE,
      exportName: 'Nope',
    });
    expect(((await failure(() => wrongExport.start())) as Error).message).toMatch(
      /no export named "Nope"/,
    );
  });

  it('rejects bad thread options with InvalidOptionError', () => {
    const p = new Dispatcher({ lanes: 1 });
    expect(() => new ThreadLanes(p, { module: '' })).toThrow(InvalidOptionError);
    expect(() => new ThreadLanes(p, { module: COUNTER_MODULE, grace: 1 } as never)).toThrow(
      /threads\.grace/,
    );
    expect(() => new ThreadLanes(p, { module: COUNTER_MODULE, graceMs: -1 })).toThrow(
      InvalidOptionError,
    );
  });

  // A type test too: `npm run typecheck` fails if the @ts-expect-error line compiles.
  it("takes Nest's LogLevel[] for threads.logLevels and names a level Nest does not know", () => {
    const p = new Dispatcher({ lanes: 1 });
    new ThreadLanes(p, { module: COUNTER_MODULE, logLevels: ['fatal', 'error', 'warn', 'log'] });
    new ThreadLanes(p, { module: COUNTER_MODULE, logLevels: false });
    // @ts-expect-error 'info' is no Nest LogLevel
    const info = () => new ThreadLanes(p, { module: COUNTER_MODULE, logLevels: ['error', 'info'] });
    expect(info).toThrow(
      `Invalid option "threads.logLevels[1]": got "info"; expected a Nest log level: 'log', 'error', 'warn', 'debug', 'verbose' or 'fatal'.`,
    );
  });

  it('holds a task with an explicit gate until released (sanity check of the fixture)', async () => {
    const g = gate();
    let settled = false;
    const run = pool.submit<number>('block', { flag: g.flag }, { sessionId: 'gate' });
    void run.finally(() => (settled = true));
    await g.entered(); // the handler runs, in its thread, and waits on the gate
    // A round trip through the other lane's thread: time in which a gate that did not hold would have let it finish.
    const [other] = sessionsOn(1 - laneOf('gate', [0, 1]), [0, 1], 1, 'gate-other');
    await pool.submit('echo', null, { sessionId: other });
    expect(settled).toBe(false);
    expect(pool.stats().running).toBe(1);
    g.release();
    expect(await run).toBe(threads.threadIds().get(laneOf('gate', [0, 1])));
  });
});

describe('ThreadLanes: a replacement thread that cannot boot', () => {
  const fragile = new URL('../../dist/test/fixtures/threads/fragile.module.js', import.meta.url);
  const marker = new URL('./fragile.fail-boot', fragile);
  afterEach(() => rmSync(marker, { force: true }));

  it("fails the lane's tasks fast with WorkerThreadExitedError, then starts a thread again after a backoff", async () => {
    const pool = new Dispatcher({ lanes: 1 });
    const threads = new ThreadLanes(pool, { module: fragile });
    await threads.start();
    pool.start();
    const first = await pool.submit<number>('whoami', null);
    writeFileSync(marker, '');
    expect(await failure(() => pool.submit('exit', null))).toBeInstanceOf(WorkerThreadExitedError);
    // The replacement refuses to boot: tasks fail (fast, once it is known) instead of waiting forever.
    expect(await failure(() => pool.submit('whoami', null))).toBeInstanceOf(
      WorkerThreadExitedError,
    );
    rmSync(marker);
    // After the backoff (500 ms for a first failure) a new thread boots and the lane works again.
    // Bounded by a deadline far above the backoff: a loaded machine boots threads slowly.
    const deadline = Date.now() + 45_000;
    let now: number | undefined;
    while (now === undefined && Date.now() < deadline) {
      now = await pool.submit<number>('whoami', null).catch(() => undefined);
      if (now === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(now).toEqual(expect.any(Number));
    expect(now).not.toBe(first);
    await pool.drain();
    await threads.close();
    expect(threads.liveThreads).toBe(0);
  }, 60_000);
});

describe('ThreadLanes with load-aware placement', () => {
  it('a session that ran in another thread meanwhile arrives again when it comes back home (the main thread tells, not the ring)', async () => {
    const pool = new Dispatcher({ lanes: 2, placement: 'least-loaded' });
    const threads = new ThreadLanes(pool, { module: COUNTER_MODULE });
    await threads.start();
    pool.start();
    const [s, x] = sessionsOn(0, [0, 1], 2, 'home');
    const seen: Array<[number, boolean]> = [];
    const run = async () => {
      const r = await pool.submit<any>('echo', 1, { sessionId: s });
      seen.push([r.laneId, r.arrived]);
    };
    await run();
    await run();
    const g = gate();
    const blocked = pool.submit('block', { flag: g.flag }, { sessionId: x }); // lane 0 busy
    await run(); // least-loaded: lane 1
    g.release();
    await blocked;
    await run(); // both idle: home again, where its state is older than lane 1's
    expect(seen).toEqual([
      [0, true],
      [0, false],
      [1, true],
      [0, true],
    ]);
    await pool.drain();
    await threads.close();
  });
});

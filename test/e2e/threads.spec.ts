import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import {
  Autoscaler,
  Dispatcher,
  DuplicateHandlerError,
  PayloadNotCloneableError,
  TaskHandler,
  TaskTimeoutError,
  ThreadLanes,
  UnknownTaskTypeError,
  WorkerPoolModule,
  WorkerThreadExitedError,
} from '../../lib/index.js';
import { failure } from '../support/errors.js';
import { COUNTER_MODULE, gate, laneOf, sessionsOn } from '../support/threads.js';

// A real Nest app whose pool runs its handlers in worker threads booted from the fixture module.
async function boot(options: object = {}, providers: unknown[] = []) {
  const moduleRef = await Test.createTestingModule({
    imports: [
      WorkerPoolModule.forRoot({
        lanes: 2,
        maxLanes: 4,
        threads: { module: COUNTER_MODULE },
        ...options,
      }),
    ],
    providers: providers as never[],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return { app, pool: app.get(Dispatcher), threads: app.get(ThreadLanes) };
}

type Step = {
  seq: number;
  prev: number;
  overlap: boolean;
  arrived: boolean;
  threadId: number;
  laneId: number;
};

describe('thread mode (e2e)', () => {
  let ctx: Awaited<ReturnType<typeof boot>>;
  beforeAll(async () => (ctx = await boot()));
  afterAll(async () => {
    await ctx.app.close();
    // Shutdown leaves no thread behind.
    expect(ctx.threads.liveThreads).toBe(0);
    expect(ctx.pool.stats().threads).toEqual([]);
  });

  it("gives thread lanes their defaults: ring placement, and busy sessions kept ('when-idle')", () => {
    // A session's warm state lives in its thread: it moves only once idle (or its lane goes).
    expect(ctx.pool.options).toMatchObject({ placement: 'ring', rebalance: 'when-idle' });
  });

  it('keeps each session on its lane thread (affinity), and refuses types no thread knows', async () => {
    const { pool } = ctx;
    const sessions = Array.from({ length: 40 }, (_, i) => `aff${i}`);
    const runs = await Promise.all(
      sessions.flatMap((id) =>
        [1, 2, 3].map(() => pool.submit<any>('echo', null, { sessionId: id })),
      ),
    );
    const threadOfLane = new Map(pool.stats().threads!.map((t) => [t.laneId, t.threadId]));
    for (const r of runs) {
      expect(r.laneId).toBe(laneOf(r.sessionId, [0, 1]));
      expect(r.threadId).toBe(threadOfLane.get(r.laneId));
    }
    expect(await failure(() => pool.submit('not.a.thread.type', 1))).toBeInstanceOf(
      UnknownTaskTypeError,
    );
  });

  it('keeps per-session order and exclusion while lanes (threads) are added and removed', async () => {
    const { pool } = ctx;
    const sessions = Array.from({ length: 60 }, (_, i) => `ord${i}`);
    // Per session, in memory all threads share: tasks running now, and the last seq started.
    const mem = new SharedArrayBuffer(8 * sessions.length);
    const view = new Int32Array(mem);
    for (let i = 0; i < sessions.length; i++) view[2 * i + 1] = -1;
    const results: Promise<Step>[] = [];
    const sizes = [3, 4, 2, 3, 2];
    for (let round = 0; round < 10; round++) {
      sessions.forEach((id, slot) =>
        results.push(
          pool.submit<Step>('shared-step', { seq: round, slot, mem }, { sessionId: id }),
        ),
      );
      if (round % 2 === 1) {
        // Resize while this round runs: some sessions are mid-task, others queued.
        await results[results.length - sessions.length];
        void pool.resize(sizes[(round - 1) / 2]);
      }
    }
    const steps = await Promise.all(results);
    let moved = 0;
    for (const s of steps) {
      // Across threads: never two of a session's tasks at once, and every step right after the one before.
      expect(s.overlap).toBe(false);
      expect(s.prev).toBe(s.seq - 1);
      if (s.arrived && s.seq > 0) moved++;
    }
    // The resizes did move sessions between threads mid-stream, so the checks above crossed threads.
    expect(moved).toBeGreaterThan(0);
    expect(pool.stats().lanes.map((l) => l.id)).toEqual([0, 1]);
  });

  it('keeps session state warm across resizes that do not move it; a moved session arrives and rebuilds', async () => {
    const { pool } = ctx;
    await pool.resize(2);
    const stay = sessionsOn(0, [0, 1, 2], 5, 'stay').filter((id) => laneOf(id, [0, 1]) === 0);
    const move = sessionsOn(2, [0, 1, 2], 5, 'move');
    const count = (id: string, rebuilt?: number) =>
      pool.submit<any>('count', { seq: 0, rebuilt }, { sessionId: id });
    for (const id of [...stay, ...move]) for (let i = 0; i < 3; i++) await count(id, 0);
    await pool.resize(3);
    for (const id of stay)
      expect(await count(id)).toMatchObject({ n: 4, arrived: false, laneId: 0 });
    // Moved to the new lane's thread: told so, it starts from the state the user rebuilds (here: 3).
    for (const id of move)
      expect(await count(id, 3)).toMatchObject({ n: 4, arrived: true, laneId: 2 });
    await pool.resize(2);
    // Back on their old thread, whose state for them is stale: they arrive again.
    for (const id of move) expect(await count(id, 4)).toMatchObject({ n: 5, arrived: true });
    for (const id of stay) expect(await count(id)).toMatchObject({ n: 5, arrived: false });
  });

  it("terminates and replaces a thread whose task overran its timeout; the lane's other sessions go on", async () => {
    const { pool } = ctx;
    const before = pool.stats().threads!.find((t) => t.laneId === 1)!;
    const [stuck, other] = sessionsOn(1, [0, 1], 2, 'to');
    const spin = pool.submit('spin', null, { sessionId: stuck, timeoutMs: 300 });
    const queuedBehind = pool.submit<any>('echo', 'after', { sessionId: other }); // same lane, sent in the same batch
    expect(await failure(() => spin)).toBeInstanceOf(TaskTimeoutError);
    const r = await queuedBehind;
    expect(r.payload).toBe('after');
    const after = pool.stats().threads!.find((t) => t.laneId === 1)!;
    expect(after.threadId).not.toBe(before.threadId);
    expect(after.replaced).toBe(before.replaced + 1);
    expect(r.threadId).toBe(after.threadId);
    // The session goes on in the new thread, told that its state is gone.
    expect(await pool.submit<any>('echo', 1, { sessionId: stuck })).toMatchObject({
      arrived: true,
      threadId: after.threadId,
    });
  });

  it('replaces a crashed thread: the running task fails with WorkerThreadExitedError, or is retried if its policy says so', async () => {
    const { pool } = ctx;
    const [id] = sessionsOn(0, [0, 1], 1, 'crash');
    const before = pool.stats().threads!.find((t) => t.laneId === 0)!.threadId;
    const error = await failure(() => pool.submit('crash', 'exit', { sessionId: id }));
    expect(error).toBeInstanceOf(WorkerThreadExitedError);
    expect((error as Error).message).toMatch(/lane 0 ended \(it exited with code 3\)/);
    expect(await failure(() => pool.submit('crash', 'throw', { sessionId: id }))).toBeInstanceOf(
      WorkerThreadExitedError,
    );
    // 'flaky' has retry: { attempts: 2 }: its first attempt kills the thread, the second runs in the replacement.
    await expect(pool.submit('flaky', null, { sessionId: id })).resolves.toBe(2);
    expect(pool.stats().threads!.find((t) => t.laneId === 0)!.threadId).not.toBe(before);
  });

  it('fails only the submit whose payload cannot be cloned', async () => {
    const { pool } = ctx;
    const g = gate();
    const ok = pool.submit('block', { flag: g.flag }, { sessionId: 'nc1' });
    const bad = pool.submit('echo', { reply: () => 'no' }, { sessionId: 'nc2' });
    expect(await failure(() => bad)).toBeInstanceOf(PayloadNotCloneableError);
    g.release();
    await expect(ok).resolves.toEqual(expect.any(Number));
    expect(pool.stats().threads!.every((t) => t.heapUsed > 0 && t.heapLimit > t.heapUsed)).toBe(
      true,
    );
  });
});

@Injectable()
class MainThreadEcho {
  @TaskHandler('echo')
  echo(p: unknown) {
    return p;
  }
}

describe('thread mode (e2e): startup', () => {
  it('refuses a main-thread handler for a type the threads handle', async () => {
    const error = await failure(() => boot({ lanes: 1 }, [MainThreadEcho]));
    expect(error).toBeInstanceOf(DuplicateHandlerError);
    expect((error as Error).message).toMatch(
      /MainThreadEcho\.echo and Counters\.echo \(thread\)|Counters\.echo \(thread\)/,
    );
  });
});

describe('thread mode (e2e): autoscaler', () => {
  it('adds and removes threads as the autoscaler resizes, keeping each session in order', async () => {
    let want = 2;
    const policy = (input: { lanes: number }) =>
      ({
        desired: want,
        direction: want > input.lanes ? 'up' : want < input.lanes ? 'down' : 'hold',
        reason: 'test policy',
        inputs: {},
      }) as never;
    const moduleRef = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        WorkerPoolModule.forRoot({
          lanes: 2,
          maxLanes: 4,
          threads: { module: COUNTER_MODULE },
          autoscale: { min: 2, max: 3, enabled: false, policy },
        }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const pool = app.get(Dispatcher);
    const scaler = app.get(Autoscaler);
    scaler.resume();
    const steps: Promise<Step>[] = [];
    const sizes: number[] = [];
    for (let round = 0; round < 6; round++) {
      for (let s = 0; s < 30; s++)
        steps.push(pool.submit<Step>('step', round, { sessionId: `as${s}` }));
      want = round < 3 ? 3 : 2;
      scaler.tick();
      sizes.push(pool.stats().lanes.filter((l) => !l.retiring).length);
    }
    for (const s of await Promise.all(steps)) {
      expect(s.overlap).toBe(false);
      if (!s.arrived) expect(s.prev).toBe(s.seq - 1);
    }
    expect(sizes).toEqual([3, 3, 3, 2, 2, 2]);
    expect(pool.stats().threads!.map((t) => t.laneId)).toEqual([0, 1]);
    await app.close();
    expect(app.get(ThreadLanes).liveThreads).toBe(0);
  });

  it("tells a thread's running handler of the drain deadline, though it has no timeout or signal", async () => {
    const { app, pool } = await boot();
    const run = pool.submit('until-aborted', null, { sessionId: 'shutdown' });
    // The deadline comes long before the grace period would abandon the handler.
    const report = await pool.drain(100, { graceMs: 30_000 });
    expect(await run).toBe('TaskCancelledError');
    expect(report).toMatchObject({ completed: 1, deadlineReached: true, abandonedTasks: [] });
    await app.close();
  });
});

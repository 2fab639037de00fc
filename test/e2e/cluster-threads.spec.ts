// Thread lanes in cluster mode, through the Nest module on the real PostgreSQL: a task fetched
// from the queue runs in its lane's worker thread with the payload that was enqueued and a ctx
// that carries the job (the queue's attempt, redelivered, jobId); a drain deadline that cuts
// off a running thread task hands it back to the queue without using an attempt.
import 'reflect-metadata';
import { BroadcastChannel, threadId as mainThreadId } from 'node:worker_threads';
import { Test } from '@nestjs/testing';
import type { INestApplication } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Cluster, Dispatcher, WorkerPoolModule } from '../../lib/index.js';
import type { Run } from '../fixtures/threads/cluster-tasks.module.js';
import { deferred } from '../support/deferred.js';
import { describeCluster, freshDatabase } from '../support/cluster.js';
import { CLUSTER_TASKS_MODULE } from '../support/threads.js';

let channels = 0;

/** The runs the fixture's thread handlers report on a channel of their own, as they come. */
function listen() {
  const name = `nwp-cluster-threads-${process.pid}-${++channels}`;
  const runs: Run[] = [];
  let waiting: { done: (runs: Run[]) => boolean; resolve: () => void } | undefined;
  const channel = new BroadcastChannel(name);
  channel.onmessage = (event) => {
    runs.push((event as { data: Run }).data);
    if (waiting?.done(runs)) waiting.resolve();
  };
  return {
    name,
    runs,
    /** Resolves once `count` runs have been reported. */
    until(count: number): Promise<void> {
      const reached = deferred();
      waiting = { done: (r) => r.length >= count, resolve: reached.resolve };
      if (runs.length >= count) reached.resolve();
      return reached.promise;
    },
    close: () => channel.close(),
  };
}

describeCluster('thread lanes in cluster mode (e2e)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  const errors: unknown[] = [];
  /** Each test's own channel. */
  let listener: ReturnType<typeof listen>;

  beforeAll(async () => {
    db = await freshDatabase();
  });
  beforeEach(() => {
    listener = listen();
  });
  afterEach(() => listener.close());
  afterAll(async () => {
    await db?.drop();
  });

  async function boot(queuePrefix: string, options: object = {}): Promise<INestApplication> {
    const moduleRef = await Test.createTestingModule({
      imports: [
        WorkerPoolModule.forRoot({
          lanes: 2,
          threads: { module: CLUSTER_TASKS_MODULE },
          cluster: {
            connectionString: db.url,
            queuePrefix,
            pollIntervalMs: 50,
            retry: { limit: 2, delaySeconds: 0 },
            onError: (e) => errors.push(e),
          },
          ...options,
        }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    return app;
  }

  /** The threadIds of the pool's lane threads: each is not the main thread's. */
  function laneThreads(app: INestApplication): Set<number> {
    const ids = new Set(
      app
        .get(Dispatcher)
        .stats()
        .threads!.map((t) => t.threadId),
    );
    expect(ids.size).toBe(2);
    expect(ids.has(mainThreadId)).toBe(false);
    return ids;
  }

  describe('one replica', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await boot('ct');
    });
    afterAll(async () => {
      await app?.close();
      expect(errors).toEqual([]);
    });

    it('enqueued tasks of 6 sessions run in the lane threads, in order per session, with the enqueued payload, the job in ctx, and arrived true', async () => {
      const cluster = app.get(Cluster);
      const sessions = Array.from({ length: 6 }, (_, i) => `conv-${i}`);
      const jobs = new Map<string, [string, number]>();
      const stored: Promise<void>[] = [];
      for (let seq = 0; seq < 5; seq++) {
        for (const s of sessions) {
          const payload = { channel: listener.name, seq };
          stored.push(
            cluster.enqueue('visit', payload, { sessionId: s }).then((id) => {
              jobs.set(id, [s, seq]);
            }),
          );
        }
      }
      await Promise.all(stored);
      await listener.until(30);
      const threads = laneThreads(app);
      for (const run of listener.runs) {
        expect(threads.has(run.threadId)).toBe(true);
        // The enqueued payload (not the queue's delivery), and the job it came from.
        expect(jobs.get(run.jobId!)).toEqual([run.sessionId, run.payload.seq]);
        expect(run.payload).toEqual({ channel: listener.name, seq: run.payload.seq });
        expect(run).toMatchObject({
          type: 'visit',
          attempt: 1,
          redelivered: false,
          // Its previous task may have run on another replica: never trusted warm.
          arrived: true,
        });
      }
      for (const s of sessions) {
        const own = listener.runs.filter((r) => r.sessionId === s);
        expect(own.map((r) => r.payload.seq)).toEqual([0, 1, 2, 3, 4]);
      }
    });

    it("submit() resolves with the thread handler's result", async () => {
      const payload = { channel: listener.name, seq: 7 };
      const run = await app.get(Cluster).submit<Run>('visit', payload, { sessionId: 'asker' });
      expect(laneThreads(app).has(run.threadId)).toBe(true);
      expect(run).toMatchObject({
        payload,
        sessionId: 'asker',
        attempt: 1,
        arrived: true,
        jobId: expect.any(String),
      });
    });

    it('a task submitted in-process right after a cluster task of its session arrives too; before it, in-process tasks stay warm', async () => {
      const pool = app.get(Dispatcher);
      const payload = { channel: listener.name, seq: 0 };
      const local = () => pool.submit<Run>('visit', payload, { sessionId: 'mixed' });
      expect((await local()).arrived).toBe(true);
      expect((await local()).arrived).toBe(false);
      const queued = await app.get(Cluster).submit<Run>('visit', payload, { sessionId: 'mixed' });
      expect(queued.arrived).toBe(true);
      // The thread's state for it may be stale by now: the session's tasks run on any replica.
      expect(await local()).toMatchObject({ arrived: true, jobId: undefined, attempt: 1 });
      expect((await local()).arrived).toBe(false);
    });

    it("a thread handler's ctx.attempt counts the queue's retries: failing attempt 1, it sees attempt 2 next", async () => {
      const payload = { channel: listener.name, seq: 0 };
      const run = await app.get(Cluster).submit<Run>('flaky', payload, { sessionId: 'flaky' });
      expect(run.attempt).toBe(2);
      expect(listener.runs.map((r) => [r.attempt, r.redelivered, r.arrived])).toEqual([
        [1, false, true],
        [2, false, true],
      ]);
      expect(listener.runs[1]!.jobId).toBe(listener.runs[0]!.jobId);
    });
  });

  it('a thread task running at the drain deadline goes back to its queue without using an attempt, and runs again redelivered on attempt 1', async () => {
    const first = await boot('ct-drain', { drainTimeoutMs: 200, drainGraceMs: 10_000 });
    let second: INestApplication | undefined;
    try {
      const id = await first
        .get(Cluster)
        .enqueue('hang', { channel: listener.name, seq: 0 }, { sessionId: 'cut' });
      await listener.until(1);
      expect(listener.runs[0]).toMatchObject({ jobId: id, attempt: 1, redelivered: false });
      await first.close();
      // The deadline aborted the thread's ctx.signal and the handler rejected with its reason.
      expect(first.get(Cluster).stats()).toMatchObject({ handedBack: 1, failed: 0, held: 0 });
      second = await boot('ct-drain');
      await listener.until(2);
      expect(listener.runs[1]).toMatchObject({
        jobId: id,
        attempt: 1,
        redelivered: true,
        arrived: true,
      });
      await second.close();
      expect(second.get(Cluster).stats()).toMatchObject({ completed: 1, failed: 0 });
      expect(errors).toEqual([]);
    } finally {
      // After a failed expectation: no app left running (closing one twice does nothing).
      await first.close();
      await second?.close();
    }
  }, 60_000);
});

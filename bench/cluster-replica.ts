// One replica of the cluster benchmark (a child process): cluster mode with a trivial handler,
// or, with NWP_MODE=pg-boss, plain pg-boss work() on the same queues with the same policy.
//   env NWP_DB, NWP_MODE ('cluster' | 'pg-boss'), NWP_SHARDS, NWP_BATCH, NWP_PREFIX
// Commands over IPC: 'enqueue' stores tasks through the API (cluster.enqueue, or boss.send),
// sessions in parallel and each session's tasks one after the other, optionally paced;
// 'stop' stops it and reports the enqueue -> start latencies its handler saw.
import { hash32 } from '../lib/core/hash.js';
import { Dispatcher } from '../lib/core/index.js';
import { Cluster } from '../lib/cluster/index.js';

export type ReplicaCommand =
  | {
      kind: 'enqueue';
      sessions: string[];
      perSession: number;
      /** Tasks per second this replica offers (open loop); 0: as fast as stores complete. */
      rate: number;
    }
  | { kind: 'stop' };
export type ReplicaReply =
  | { kind: 'ready' }
  | { kind: 'enqueued'; ms: number }
  | { kind: 'stopped'; latencies: number[]; fetches?: number; fetched?: number };

/** What a task carries: its session, and when it was enqueued (ms since the epoch, fractional). */
interface Task {
  s: string;
  at?: number;
}

const url = process.env.NWP_DB!;
const shards = Number(process.env.NWP_SHARDS ?? 4);
const batchSize = Number(process.env.NWP_BATCH ?? 50);
const prefix = process.env.NWP_PREFIX ?? 'bench';
const wallClock = () => performance.timeOrigin + performance.now();
const latencies: number[] = [];
const started = (task: Task) => {
  if (task.at !== undefined) latencies.push(wallClock() - task.at);
};
let enqueue: (task: Task) => Promise<unknown>;
let stop: () => Promise<void>;
let counts: () => { fetches?: number; fetched?: number } = () => ({});

if (process.env.NWP_MODE === 'pg-boss') {
  const { PgBoss } = await import('pg-boss');
  const boss = new PgBoss({ connectionString: url, schedule: false });
  boss.on('error', (e) => console.error(e));
  await boss.start();
  for (let i = 0; i < shards; i++) {
    await boss.work<{ t: string; s: string; p: Task }>(
      `${prefix}.${i}`,
      { batchSize, pollingIntervalSeconds: 0.5, burstWhenBatchFull: true },
      async (jobs) => {
        for (const job of jobs) started(job.data.p);
      },
    );
  }
  enqueue = (task) => {
    const singletonKey = `s:${task.s}`;
    return boss.send(
      `${prefix}.${hash32(singletonKey) % shards}`,
      { t: 'noop', s: task.s, p: task },
      { singletonKey },
    );
  };
  stop = () => boss.stop({ graceful: true, close: true });
} else {
  const pool = new Dispatcher({ lanes: 8 });
  const cluster = new Cluster(pool, {
    connectionString: url,
    shards,
    fetchBatchSize: batchSize,
    maxHeld: batchSize * shards,
    pollIntervalMs: 500,
    queuePrefix: prefix,
  });
  cluster.registerHandler('noop', (task: Task) => started(task));
  await cluster.start();
  enqueue = (task) => cluster.enqueue('noop', task, { sessionId: task.s });
  stop = async () => void (await cluster.stop(10_000));
  counts = () => ({ fetches: cluster.stats().fetches, fetched: cluster.stats().fetched });
}

async function enqueueAll(sessions: string[], perSession: number, rate: number): Promise<void> {
  const began = performance.now();
  if (rate === 0) {
    await Promise.all(
      sessions.map(async (s) => {
        for (let i = 0; i < perSession; i++) await enqueue({ s, at: wallClock() });
      }),
    );
  } else {
    // Open loop: task n is offered at n / rate, whatever the stores before it are doing; a
    // session's next task is called after its last one (unawaited: the library keeps the order).
    const total = sessions.length * perSession;
    const pending: Promise<unknown>[] = [];
    for (let n = 0; n < total; n++) {
      const due = began + (n * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      pending.push(enqueue({ s: sessions[n % sessions.length]!, at: wallClock() }));
    }
    await Promise.all(pending);
  }
  process.send!({ kind: 'enqueued', ms: performance.now() - began } satisfies ReplicaReply);
}

process.on('message', (m: ReplicaCommand) => {
  if (m.kind === 'enqueue') void enqueueAll(m.sessions, m.perSession, m.rate);
  else if (m.kind === 'stop')
    void stop().then(() => {
      process.send!({ kind: 'stopped', latencies, ...counts() } satisfies ReplicaReply, () =>
        process.disconnect(),
      );
    });
});
process.send!({ kind: 'ready' } satisfies ReplicaReply);

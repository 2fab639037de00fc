/**
 * Scenario 5: heap per queued task, and heap after a million sessions came and went.
 * Every figure is `heapUsed` after two forced full GCs (node --expose-gc).
 */
import fastq from 'fastq';
import PQueue from 'p-queue';
import { Dispatcher } from '../lib/core/index.js';
import { gc, hasGc, Latch, tick } from './harness.js';
import { CONCURRENCY } from './peers.js';

export interface QueuedRow {
  name: string;
  tasks: number;
  heapDelta: number;
  bytesPerTask: number;
}

export interface ChurnResult {
  sessions: number;
  /** heapUsed with the pool built and warmed, no session alive. */
  baseline: number;
  checkpoints: { sessions: number; heapUsed: number }[];
  delta: number;
  activeSessions: number;
  ms: number;
}

export interface MemoryResult {
  queued: QueuedRow[];
  churn: ChurnResult;
}

function heapUsed(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

const noop = (): void => {};

/** The pool as the scenario asks: never started, no queue limit. */
function idlePool(): Dispatcher {
  const pool = new Dispatcher({
    lanes: CONCURRENCY,
    laneConcurrency: 1,
    maxQueued: Infinity,
    maxQueuedPerSession: Infinity,
  });
  pool.registerHandler('t', async () => {});
  return pool;
}

/**
 * `make` builds an empty holder (measured before), `fill` queues `n` tasks into it (measured
 * after); the holder stays reachable until the second measurement.
 */
function perTask<H>(
  name: string,
  n: number,
  make: () => H,
  fill: (h: H, n: number) => void,
): QueuedRow {
  const holder = make();
  const before = heapUsed();
  fill(holder, n);
  const after = heapUsed();
  if (holder === undefined) throw new Error('unreachable');
  return { name, tasks: n, heapDelta: after - before, bytesPerTask: (after - before) / n };
}

export async function runMemory(cfg: { tasks: number; sessions: number }): Promise<MemoryResult> {
  if (!hasGc()) throw new Error('Run with node --expose-gc (npm run bench does).');
  const n = cfg.tasks;
  const keys = Array.from({ length: 1_000 }, (_, i) => `session-${i}`);
  const queued: QueuedRow[] = [
    perTask('pool.enqueue', n, idlePool, (p, n) => {
      for (let i = 0; i < n; i++) void p.enqueue('t', i);
    }),
    perTask('pool.enqueue (keyed, 1,000 sessions)', n, idlePool, (p, n) => {
      for (let i = 0; i < n; i++) void p.enqueue('t', i, { sessionId: keys[i % 1000] });
    }),
    perTask('pool.submit', n, idlePool, (p, n) => {
      for (let i = 0; i < n; i++) void p.submit('t', i);
    }),
    perTask('pool.submit (keyed, 1,000 sessions)', n, idlePool, (p, n) => {
      for (let i = 0; i < n; i++) void p.submit('t', i, { sessionId: keys[i % 1000] });
    }),
    perTask(
      // add() returns a promise per task: a peer of pool.submit, not of enqueue.
      'p-queue add (autoStart: false; a promise per task)',
      n,
      () => new PQueue({ concurrency: CONCURRENCY, autoStart: false }),
      (q, n) => {
        const work = async () => {};
        for (let i = 0; i < n; i++) void q.add(work);
      },
    ),
    perTask(
      'fastq callback push (paused)',
      n,
      () => {
        const q = fastq((_x: number, cb: fastq.done) => cb(null), CONCURRENCY);
        q.pause();
        return q;
      },
      (q, n) => {
        for (let i = 0; i < n; i++) q.push(i, noop);
      },
    ),
    perTask(
      'fastq promise push (paused)',
      n,
      () => {
        const q = fastq.promise(async (_x: number) => {}, CONCURRENCY);
        q.pause();
        return q;
      },
      (q, n) => {
        for (let i = 0; i < n; i++) void q.push(i);
      },
    ),
  ];
  return { queued, churn: await churn(cfg.sessions) };
}

/** 1,000,000 distinct sessions, one task each, in waves of 10,000; heap checked every quarter. */
async function churn(total: number): Promise<ChurnResult> {
  const latch = new Latch();
  const pool = new Dispatcher({ lanes: CONCURRENCY, laneConcurrency: 1 });
  pool.registerHandler('t', async () => latch.hit());
  pool.start();
  const wave = 10_000;
  const runWave = (prefix: string, from: number): Promise<void> => {
    const done = latch.arm(wave);
    for (let i = 0; i < wave; i++) void pool.enqueue('t', i, { sessionId: `${prefix}${from + i}` });
    // The last handler reports before its task settles; a macrotask later all have.
    return done.then(tick);
  };
  await runWave('warmup-', 0);
  const baseline = heapUsed();
  const checkpoints: ChurnResult['checkpoints'] = [];
  let measuring = 0;
  for (let from = 0; from < total; from += wave) {
    const t = performance.now();
    await runWave('user-', from);
    measuring += performance.now() - t;
    if ((from + wave) % (total / 4) === 0) {
      checkpoints.push({ sessions: from + wave, heapUsed: heapUsed() });
    }
  }
  const last = checkpoints[checkpoints.length - 1].heapUsed;
  return {
    sessions: total,
    baseline,
    checkpoints,
    delta: last - baseline,
    activeSessions: pool.stats().activeSessions,
    ms: measuring,
  };
}

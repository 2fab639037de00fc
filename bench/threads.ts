/**
 * Thread mode beside piscina, both with 2 threads: trivial tasks (messaging cost: the pool
 * batches tasks and results per postMessage) and CPU-bound ones (sha256 of 64 KiB).
 */
import { Piscina } from 'piscina';
import { Dispatcher } from '../lib/core/index.js';
import { ThreadLanes } from '../lib/threads/index.js';
import { type CompareOptions, type Contender, type ThroughputResult, compare } from './harness.js';

export interface ThreadsConfig {
  trivial: CompareOptions;
  cpu: CompareOptions;
  /** Tasks in flight per lane thread (the pool's laneConcurrency; the Nest default in thread mode is 16). */
  laneConcurrency: number;
}

export interface ThreadsResult {
  trivial: ThroughputResult[];
  cpu: ThroughputResult[];
}

const THREADS = 2;
const SESSIONS = 1_000;
const sessions = Array.from({ length: SESSIONS }, (_, i) => `s${i}`);

async function threadPool(laneConcurrency: number) {
  const pool = new Dispatcher({
    lanes: THREADS,
    laneConcurrency,
    maxQueued: Infinity,
    maxQueuedPerSession: Infinity,
  });
  const threads = new ThreadLanes(pool, {
    module: new URL('./threads/bench.module.js', import.meta.url),
  });
  await threads.start();
  pool.start();
  return { pool, threads };
}

function poolContender(name: string, pool: Dispatcher, type: string, keyed: boolean): Contender {
  return {
    name,
    run(n) {
      const all: Promise<unknown>[] = new Array(n);
      for (let i = 0; i < n; i++)
        all[i] = pool.submit(type, i, keyed ? { sessionId: sessions[i % SESSIONS] } : undefined);
      return Promise.all(all).then(() => undefined);
    },
  };
}

function piscinaContender(name: string, p: Piscina, task?: string): Contender {
  const options = task === undefined ? undefined : { name: task };
  return {
    name,
    run(n) {
      const all: Promise<unknown>[] = new Array(n);
      for (let i = 0; i < n; i++) all[i] = p.run(i, options);
      return Promise.all(all).then(() => undefined);
    },
  };
}

export async function runThreads(c: ThreadsConfig): Promise<ThreadsResult> {
  const { pool, threads } = await threadPool(c.laneConcurrency);
  const filename = new URL('./threads/piscina-worker.js', import.meta.url).href;
  const piscina = new Piscina({ filename, minThreads: THREADS, maxThreads: THREADS });
  const piscina16 = new Piscina({
    filename,
    minThreads: THREADS,
    maxThreads: THREADS,
    concurrentTasksPerWorker: c.laneConcurrency,
  });
  try {
    const trivial = await compare(
      [
        poolContender(`pool.submit threads (keyed, ${SESSIONS} sessions)`, pool, 'noop', true),
        poolContender('pool.submit threads (unkeyed)', pool, 'noop', false),
        piscinaContender('piscina.run (defaults)', piscina),
        piscinaContender(`piscina.run (concurrentTasksPerWorker ${c.laneConcurrency})`, piscina16),
      ],
      c.trivial,
    );
    const cpu = await compare(
      [
        poolContender(`pool.submit threads (keyed, ${SESSIONS} sessions)`, pool, 'hash', true),
        piscinaContender('piscina.run (defaults)', piscina, 'hash'),
        // As many tasks in flight per thread as a lane keeps: the lead is not only that.
        piscinaContender(
          `piscina.run (concurrentTasksPerWorker ${c.laneConcurrency})`,
          piscina16,
          'hash',
        ),
      ],
      c.cpu,
    );
    return { trivial, cpu };
  } finally {
    await pool.drain();
    await threads.close();
    await piscina.destroy();
    await piscina16.destroy();
  }
}

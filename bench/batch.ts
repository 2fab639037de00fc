/**
 * Scenario 7: a batch handler against one task per call, on the same simulated bulk write:
 * 1 ms per call (a timer: the round trip) plus 10 us of CPU per item (spun: the encoding).
 * Both pools have 8 lanes of concurrency 1 and 1,000 sessions, so order per session holds
 * in both; the batch pool may put up to one task of each ready session in a call.
 */
import type { BatchItem } from '../lib/core/batch.js';
import { Dispatcher } from '../lib/core/index.js';
import { type Contender, compare, Latch, now, sleep, type ThroughputResult } from './harness.js';

export interface BatchBenchConfig {
  /** Tasks per measured run. */
  tasks: number;
  sessions: number;
  minMs: number;
  rounds: number;
}

export interface BatchBenchResult {
  config: BatchBenchConfig;
  results: Array<ThroughputResult & { calls: number; meanBatch: number }>;
}

const PER_CALL_MS = 1;
const PER_ITEM_US = 10;

async function bulkWrite(items: number): Promise<void> {
  await sleep(PER_CALL_MS);
  const until = now() + (items * PER_ITEM_US) / 1000;
  while (now() < until);
}

function contender(
  name: string,
  cfg: BatchBenchConfig,
  batch: { maxSize: number; maxWaitMs: number } | undefined,
): Contender & { pool: Dispatcher } {
  const pool = new Dispatcher({ lanes: 8, maxQueued: Infinity, maxQueuedPerSession: Infinity });
  if (batch === undefined) pool.registerHandler('write', () => bulkWrite(1));
  else pool.registerHandler('write', (items: BatchItem[]) => bulkWrite(items.length), { batch });
  pool.start();
  const keys = Array.from({ length: cfg.sessions }, (_, i) => `session-${i}`);
  const latch = new Latch();
  return {
    name,
    pool,
    run(n: number): Promise<void> {
      const done = latch.arm(n);
      for (let i = 0; i < n; i++)
        pool.submit('write', i, { sessionId: keys[i % keys.length] }).then(latch.hit);
      return done;
    },
  };
}

export async function runBatch(cfg: BatchBenchConfig): Promise<BatchBenchResult> {
  const contenders = [
    contender('one task per call', cfg, undefined),
    contender('batch, maxSize 100, maxWaitMs 0', cfg, { maxSize: 100, maxWaitMs: 0 }),
    contender('batch, maxSize 100, maxWaitMs 2', cfg, { maxSize: 100, maxWaitMs: 2 }),
  ];
  const results = await compare(contenders, {
    batch: cfg.tasks,
    minMs: cfg.minMs,
    rounds: cfg.rounds,
    settleMs: 0,
  });
  const out = results.map((r, i) => {
    const stats = contenders[i].pool.stats();
    const calls = stats.types.write.batches ?? stats.completed;
    return { ...r, calls, meanBatch: stats.completed / calls };
  });
  for (const c of contenders) await c.pool.drain();
  return { config: cfg, results: out };
}

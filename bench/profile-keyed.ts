/**
 * A focused driver for the keyed hot path, for profilers rather than tables: it runs only
 * `pool.enqueue` or `pool.submit` (keyed, trivial handler) for a fixed number of tasks and
 * prints the rate. A fixed count makes runs comparable under `valgrind --tool=callgrind`
 * (see bench/README.md, Profiling): the difference in instructions between two task counts
 * is the per-task cost, free of startup and most JIT compilation.
 *
 *   node dist/bench/profile-keyed.js [enqueue|submit|raw] [tasks=2000000] [sessions=1000] [batch=10000]
 *
 * POOL_CONTEXT=none runs the pool with `context: 'none'` (default 'caller'); IN_ALS=1 submits
 * from inside `als.run`, as a request under nestjs-cls would; POOL_REBALANCE=when-idle runs it
 * with `rebalance: 'when-idle'` (default 'between-tasks').
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Dispatcher } from '../lib/core/index.js';
import { Latch } from './harness.js';
import { CONCURRENCY } from './peers.js';

const [mode = 'enqueue', tasksArg, sessionsArg, batchArg] = process.argv.slice(2);
const tasks = Number(tasksArg ?? 2_000_000);
const sessions = Number(sessionsArg ?? 1_000);
const batch = Number(batchArg ?? 10_000);
const keys = Array.from({ length: sessions }, (_, i) => `session-${i}`);
const latch = new Latch();
let counter = 0;

const pool = new Dispatcher({
  lanes: CONCURRENCY,
  laneConcurrency: 1,
  maxQueued: Infinity,
  maxQueuedPerSession: Infinity,
  context: process.env.POOL_CONTEXT === 'none' ? 'none' : 'caller',
  rebalance: process.env.POOL_REBALANCE === 'when-idle' ? 'when-idle' : 'between-tasks',
});
const als = process.env.IN_ALS === '1' ? new AsyncLocalStorage<object>() : undefined;
const store = { requestId: 'r-1' };
pool.registerHandler('plain', async () => {
  counter++;
});
pool.registerHandler('counting', async () => {
  latch.hit();
});
pool.start();

let j = 0;
function runBatch(n: number): Promise<void> {
  return als === undefined ? submitBatch(n) : als.run(store, submitBatch, n);
}

function submitBatch(n: number): Promise<void> {
  const done = latch.arm(n);
  if (mode === 'submit') {
    for (let i = 0; i < n; i++) {
      pool.submit('plain', i, { sessionId: keys[j] }).then(latch.hit);
      if (++j === keys.length) j = 0;
    }
  } else if (mode === 'enqueue') {
    for (let i = 0; i < n; i++) {
      void pool.enqueue('counting', i, { sessionId: keys[j] });
      if (++j === keys.length) j = 0;
    }
  } else {
    // The ceiling: 8 runners awaiting the handler, no queue.
    let i = 0;
    const fn = async (): Promise<void> => latch.hit();
    const runner = async (): Promise<void> => {
      while (i < n) {
        i++;
        await fn();
      }
    };
    for (let r = 0; r < CONCURRENCY; r++) void runner();
  }
  return done;
}

const t0 = performance.now();
for (let done = 0; done < tasks; done += batch) await runBatch(Math.min(batch, tasks - done));
const ms = performance.now() - t0;
// The last handlers have reported; let their run loops finish before reading the pool.
await new Promise((resolve) => setImmediate(resolve));
console.log(
  `${mode}: ${tasks} tasks, ${sessions} sessions, ${(((tasks / ms) * 1000) / 1e6).toFixed(2)} M/s` +
    ` (${pool.stats().activeSessions} sessions left, ${counter} plain handler runs)`,
);

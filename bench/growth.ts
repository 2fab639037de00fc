/**
 * Scenario 11: growth under a backlog (issue 16 item 4). A backlog of always-busy sessions
 * (each with a deep queue, so none goes idle) runs on 2 lanes; the pool then grows to 16.
 * Reported: the drain rate (tasks completed per second) after the growth, per 100 ms and over
 * the first and second second, against 16 lanes' capacity (the same backlog on 16 lanes from
 * the start), for the default `rebalance` and for 'when-idle' (which keeps a busy session on
 * its lane until it is idle, so the new lanes get nothing of this backlog). Contenders run
 * in a shuffled order each round; figures are medians over rounds.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dispatcher, type PoolOptions } from '../lib/core/index.js';
import { fmtRatio, median, now, shuffledOrder, sleep, table, tick } from './harness.js';

export interface GrowthConfig {
  sessions: number;
  /** Tasks queued per session: enough that none goes idle while the rate is measured. */
  tasksPerSession: number;
  taskMs: number;
  fromLanes: number;
  toLanes: number;
  /** Time on `fromLanes` before the growth. */
  beforeMs: number;
  /** Time measured after the growth, in buckets of `bucketMs`. */
  afterMs: number;
  bucketMs: number;
  rounds: number;
}

export interface GrowthRow {
  name: string;
  /** Tasks/s over the first second after the growth (median over rounds). */
  firstSecond: number;
  /** Tasks/s over the second second. */
  secondSecond: number;
  /** When the rate over a second first reached 80% of capacity (see reachedAt), median over rounds. */
  msTo80: number;
  /** Each round's tasks/s per bucket after the growth. */
  buckets: number[][];
}

export interface GrowthResult {
  config: GrowthConfig;
  /** Tasks/s of `toLanes` lanes with the backlog spread from the start (median over rounds). */
  capacity: number;
  capacityRounds: number[];
  rows: GrowthRow[];
}

/** Per-bucket completion counts after `growAt` (or from the start without growth). */
async function run(cfg: GrowthConfig, options: PoolOptions, grow: boolean): Promise<number[]> {
  const pool = new Dispatcher({
    lanes: grow ? cfg.fromLanes : cfg.toLanes,
    maxLanes: cfg.toLanes,
    maxQueued: Infinity,
    maxQueuedPerSession: Infinity,
    // The backlog left at the end is cancelled on purpose.
    onUnhandledFailure: () => undefined,
    ...options,
  });
  const buckets = new Array<number>(Math.ceil(cfg.afterMs / cfg.bucketMs)).fill(0);
  let from = Infinity;
  pool.registerHandler('message', async () => {
    await sleep(cfg.taskMs);
    const i = Math.floor((now() - from) / cfg.bucketMs);
    if (i >= 0 && i < buckets.length) buckets[i]++;
  });
  for (let k = 0; k < cfg.tasksPerSession; k++)
    for (let s = 0; s < cfg.sessions; s++)
      void pool.enqueue('message', null, { sessionId: `conversation-${s}` });
  pool.start();
  if (grow) {
    await sleep(cfg.beforeMs);
    from = now();
    await pool.resize(cfg.toLanes);
  } else {
    // The same warm-up, on all lanes from the start.
    await sleep(cfg.beforeMs);
    from = now();
  }
  await sleep(cfg.afterMs + cfg.taskMs * 2);
  // The rest of the backlog is cancelled; what runs finishes.
  await pool.drain(0);
  return buckets.map((n) => (n * 1000) / cfg.bucketMs);
}

const rateOver = (rates: number[], bucketMs: number, fromMs: number, toMs: number): number => {
  const part = rates.slice(fromMs / bucketMs, toMs / bucketMs);
  return part.reduce((a, b) => a + b, 0) / part.length;
};

/**
 * How soon after the growth the drain rate reached `floor`: the start of the first 1 s window
 * whose rate is `floor` or more (a second, not a bucket: under timers and a shared CPU one
 * 100 ms bucket swings by half), or Infinity if none did.
 */
function reachedAt(rates: number[], bucketMs: number, floor: number): number {
  const n = 1_000 / bucketMs;
  for (let i = 0; i + n <= rates.length; i++) {
    if (rateOver(rates, bucketMs, i * bucketMs, (i + n) * bucketMs) >= floor) return i * bucketMs;
  }
  return Infinity;
}

export async function runGrowth(cfg: GrowthConfig): Promise<GrowthResult> {
  const contenders: Array<{ name: string; options: PoolOptions; grow: boolean }> = [
    { name: `${cfg.toLanes} lanes from the start (capacity)`, options: {}, grow: false },
    { name: `default, ${cfg.fromLanes} -> ${cfg.toLanes}`, options: {}, grow: true },
    {
      name: `rebalance 'when-idle', ${cfg.fromLanes} -> ${cfg.toLanes}`,
      options: { rebalance: 'when-idle' },
      grow: true,
    },
  ];
  const samples = contenders.map(() => [] as number[][]);
  for (let r = 0; r < cfg.rounds; r++) {
    for (const i of shuffledOrder(contenders.length)) {
      await tick();
      const c = contenders[i];
      samples[i].push(await run(cfg, c.options, c.grow));
    }
  }
  const capacityRounds = samples[0].map((rates) => rateOver(rates, cfg.bucketMs, 0, cfg.afterMs));
  const capacity = median(capacityRounds);
  const rows = contenders.slice(1).map((c, j) => {
    const rounds = samples[j + 1];
    return {
      name: c.name,
      firstSecond: median(rounds.map((x) => rateOver(x, cfg.bucketMs, 0, 1_000))),
      secondSecond: median(rounds.map((x) => rateOver(x, cfg.bucketMs, 1_000, 2_000))),
      msTo80: median(rounds.map((x) => reachedAt(x, cfg.bucketMs, 0.8 * capacity))),
      buckets: rounds.map((x) => x.map(Math.round)),
    };
  });
  return { config: cfg, capacity, capacityRounds: capacityRounds.map(Math.round), rows };
}

export function printGrowth(r: GrowthResult, out: (s: string) => void): void {
  const c = r.config;
  out(
    `${c.sessions} sessions x ${c.tasksPerSession} queued tasks of ${c.taskMs} ms (a timer), ` +
      `${c.fromLanes} lanes of concurrency 1 grown to ${c.toLanes} after ${c.beforeMs} ms; ` +
      `median of ${c.rounds} rounds. ${c.toLanes} lanes' capacity: ${r.capacity.toFixed(0)} tasks/s`,
  );
  const ms = (x: number) => (Number.isFinite(x) ? `${x} ms` : 'never');
  out(
    table(
      [
        'after the growth',
        'first second',
        'second second',
        'of capacity (1st / 2nd)',
        'a second at >= 80% from',
      ],
      r.rows.map((x) => [
        x.name,
        `${x.firstSecond.toFixed(0)}/s`,
        `${x.secondSecond.toFixed(0)}/s`,
        `${fmtRatio(x.firstSecond / r.capacity)} / ${fmtRatio(x.secondSecond / r.capacity)}`,
        ms(x.msTo80),
      ]),
    ),
  );
}

export const GROWTH_CONFIG: GrowthConfig = {
  sessions: 200,
  tasksPerSession: 40,
  taskMs: 10,
  fromLanes: 2,
  toLanes: 16,
  beforeMs: 300,
  afterMs: 2_000,
  bucketMs: 100,
  rounds: 3,
};

// Alone: node --expose-gc dist/bench/growth.js; writes bench/results/<date>-growth.json.
if (process.argv[1]?.endsWith('growth.js')) {
  const rounds = Number(process.env.GROWTH_ROUNDS ?? GROWTH_CONFIG.rounds);
  const date = new Date().toISOString();
  const loadavgAtStart = os.loadavg();
  const result = await runGrowth({ ...GROWTH_CONFIG, rounds });
  printGrowth(result, (s) => console.log(s));
  const file = join(
    dirname(fileURLToPath(import.meta.url)),
    `../../bench/results/${date.slice(0, 16).replace(':', '-')}-growth.json`,
  );
  const meta = { date, node: process.version, cpus: os.cpus().length, loadavgAtStart };
  const json = { meta: { ...meta, loadavgAtEnd: os.loadavg() }, growth: result };
  writeFileSync(file, JSON.stringify(json, null, 2));
  console.log(`wrote ${file}`);
}

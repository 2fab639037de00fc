/**
 * Scenario 4: queueing latency, submit -> handler start, under open-loop load.
 *
 * The handler awaits setTimeout(1 ms), like a handler waiting on I/O, so 8 lanes hold 8
 * tasks at a time and the event loop stays free. Capacity is measured closed-loop first
 * (the pool kept saturated); every contender then gets the same arrival schedule at 50%
 * and 90% of it. Arrivals are open-loop: a generator ticking on setTimeout submits, at
 * each tick, every task whose planned arrival time has passed, whether or not earlier
 * ones have started. Each task carries the time it was submitted; the handler records
 * `start - submitted` as its first statement. We also record `start - planned`, which
 * adds the generator's own lateness (timer granularity, ~1 ms) to the wait.
 *
 * Each load runs in rounds: every contender once per round, in a seeded shuffled order, and
 * a row reports the median of each figure over the rounds (with the range of p99), so a
 * noisy moment hurts all contenders alike instead of whichever ran then.
 */
import PQueue from 'p-queue';
import { hash32 } from '../lib/core/hash.js';
import { Dispatcher } from '../lib/core/index.js';
import type { PlacementKind } from '../lib/core/placement/session-placement.js';
import { compare, gc, median, now, percentile, shuffledOrder, sleep, tick } from './harness.js';
import { rng } from './rng.js';
import { CONCURRENCY, latch } from './peers.js';

interface Arrival {
  planned: number;
  submitted: number;
}

/** Where the handler writes what it measured. */
class Recorder {
  waits = new Float64Array(0);
  lateness = new Float64Array(0);
  n = 0;
  /** Samples before this time are warm-up and dropped. */
  from = Infinity;

  reset(capacity: number, from: number): void {
    this.waits = new Float64Array(capacity);
    this.lateness = new Float64Array(capacity);
    this.n = 0;
    this.from = from;
  }

  readonly start = (a: Arrival): void => {
    const t = now();
    if (a.planned < this.from || this.n === this.waits.length) return;
    this.waits[this.n] = t - a.submitted;
    this.lateness[this.n] = t - a.planned;
    this.n++;
  };
}

const recorder = new Recorder();

const handler = async (a: Arrival): Promise<void> => {
  recorder.start(a);
  await sleep(1);
};

interface LatencyContender {
  name: string;
  /** Submits one arrival; `key` is its session, used by keyed contenders only. */
  submit(a: Arrival, key: string): Promise<unknown>;
}

function newPool(
  lanes = CONCURRENCY,
  laneConcurrency = 1,
  stealUnkeyed = true,
  placement?: PlacementKind,
): Dispatcher {
  const pool = new Dispatcher({
    lanes,
    laneConcurrency,
    maxQueued: Infinity,
    maxQueuedPerSession: Infinity,
    stealUnkeyed,
    placement,
  });
  pool.registerHandler('io', handler);
  pool.start();
  return pool;
}

function contenders(): LatencyContender[] {
  const unkeyed = newPool();
  const keyed = newPool();
  const shared = newPool(1, CONCURRENCY);
  const bound = newPool(CONCURRENCY, 1, false);
  const q = new PQueue({ concurrency: CONCURRENCY });
  const lanes = Array.from({ length: CONCURRENCY }, () => new PQueue({ concurrency: 1 }));
  return [
    { name: 'pool.submit', submit: (a) => unkeyed.submit('io', a) },
    // Without work stealing an unkeyed task stays on the lane it was placed on when
    // submitted, and may wait behind a busy lane while another has gone idle.
    { name: 'pool.submit (stealUnkeyed: false)', submit: (a) => bound.submit('io', a) },
    // One lane of concurrency 8: one shared queue.
    { name: 'pool.submit (1 lane x c=8)', submit: (a) => shared.submit('io', a) },
    {
      name: 'pool.submit (keyed, 1,000 sessions)',
      submit: (a, key) => keyed.submit('io', a, { sessionId: key }),
    },
    { name: 'p-queue (c=8)', submit: (a) => q.add(() => handler(a)) },
    {
      name: 'p-queue lanes (keyed, 1,000 sessions)',
      submit: (a, key) => lanes[hash32(key) % CONCURRENCY].add(() => handler(a)),
    },
  ];
}

/** Closed-loop throughput of the pool (unkeyed) with the I/O-like handler. */
async function capacity(batch: number, minMs: number): Promise<number> {
  const pool = new Dispatcher({ lanes: CONCURRENCY, laneConcurrency: 1, maxQueued: Infinity });
  pool.registerHandler('io', async () => {
    await sleep(1);
    latch.hit();
  });
  pool.start();
  const [r] = await compare(
    [
      {
        name: 'capacity',
        run(n) {
          const done = latch.arm(n);
          for (let i = 0; i < n; i++) void pool.enqueue('io', i);
          return done;
        },
      },
    ],
    { batch, minMs, rounds: 3 },
  );
  await pool.drain();
  return r.opsPerSec;
}

/** Runs the open-loop schedule against one contender; resolves once every task settled. */
async function openLoop(
  c: LatencyContender,
  rate: number,
  warmupMs: number,
  measureMs: number,
  keys: readonly string[],
): Promise<{ achievedRate: number; generatorTicks: number }> {
  const random = rng(42);
  const total = Math.round((rate * (warmupMs + measureMs)) / 1000);
  const interval = 1000 / rate;
  const pending: Promise<unknown>[] = [];
  const t0 = now();
  recorder.reset(total, t0 + warmupMs);
  let k = 0;
  let ticks = 0;
  await new Promise<void>((finish) => {
    const step = (): void => {
      ticks++;
      const t = now();
      while (k < total && t0 + k * interval <= t) {
        const a: Arrival = { planned: t0 + k * interval, submitted: now() };
        pending.push(c.submit(a, keys[(random() * keys.length) | 0]));
        k++;
      }
      if (k < total) setTimeout(step, 0);
      else finish();
    };
    step();
  });
  const elapsed = now() - t0;
  await Promise.all(pending);
  return { achievedRate: (total * 1000) / elapsed, generatorTicks: ticks };
}

export interface LatencyRow {
  name: string;
  load: number;
  offeredRate: number;
  /** Every figure below is the median over `rounds` runs of the schedule. */
  achievedRate: number;
  rounds: number;
  /** Samples per round (median). */
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Share of tasks that waited 1 ms or more. */
  over1ms: number;
  /** start - planned arrival: includes the generator's timer lateness. */
  p50FromPlanned: number;
  p99FromPlanned: number;
  /** p99 of each round, in the order the rounds ran. */
  p99Rounds: number[];
}

export interface LatencyResult {
  capacityPerSec: number;
  warmupMs: number;
  measureMs: number;
  rounds: number;
  rows: LatencyRow[];
}

type RoundFigures = Omit<LatencyRow, 'name' | 'load' | 'offeredRate' | 'rounds' | 'p99Rounds'>;

function figures(achievedRate: number): RoundFigures {
  const waits = recorder.waits.slice(0, recorder.n).sort();
  const late = recorder.lateness.slice(0, recorder.n).sort();
  return {
    achievedRate,
    samples: recorder.n,
    p50: percentile(waits, 50),
    p90: percentile(waits, 90),
    p99: percentile(waits, 99),
    max: waits[waits.length - 1],
    over1ms: waits.filter((w) => w >= 1).length / waits.length,
    p50FromPlanned: percentile(late, 50),
    p99FromPlanned: percentile(late, 99),
  };
}

export interface LatencyConfig {
  measureMs: number;
  warmupMs: number;
  rounds: number;
}

export function runLatency(cfg: LatencyConfig): Promise<LatencyResult> {
  return measure(cfg, contenders());
}

/**
 * Keyed submit -> start under each session placement policy, beside 8 p-queue lanes of
 * concurrency 1 hashed by key (issue 16).
 */
export function runPlacementLatency(cfg: LatencyConfig): Promise<LatencyResult> {
  const lanes = Array.from({ length: CONCURRENCY }, () => new PQueue({ concurrency: 1 }));
  return measure(cfg, [
    ...(['ring', 'bounded', 'least-loaded'] as const).map((placement): LatencyContender => {
      const pool = newPool(CONCURRENCY, 1, true, placement);
      return {
        name: `keyed, placement '${placement}'`,
        submit: (a, key) => pool.submit('io', a, { sessionId: key }),
      };
    }),
    {
      name: 'p-queue lanes (keyed)',
      submit: (a, key) => lanes[hash32(key) % CONCURRENCY].add(() => handler(a)),
    },
  ]);
}

async function measure(cfg: LatencyConfig, cs: LatencyContender[]): Promise<LatencyResult> {
  const cap = await capacity(800, 200);
  const keys = Array.from({ length: 1_000 }, (_, i) => `session-${i}`);
  const rows: LatencyRow[] = [];
  for (const load of [0.5, 0.9]) {
    const rate = cap * load;
    const rounds: RoundFigures[][] = cs.map(() => []);
    for (let r = 0; r < cfg.rounds; r++) {
      for (const i of shuffledOrder(cs.length)) {
        gc();
        await tick();
        const { achievedRate } = await openLoop(cs[i], rate, cfg.warmupMs, cfg.measureMs, keys);
        rounds[i].push(figures(achievedRate));
        await sleep(20);
      }
    }
    cs.forEach((c, i) => {
      const m = (key: keyof RoundFigures) => median(rounds[i].map((f) => f[key]));
      rows.push({
        name: c.name,
        load,
        offeredRate: rate,
        achievedRate: m('achievedRate'),
        rounds: cfg.rounds,
        samples: Math.round(m('samples')),
        p50: m('p50'),
        p90: m('p90'),
        p99: m('p99'),
        max: m('max'),
        over1ms: m('over1ms'),
        p50FromPlanned: m('p50FromPlanned'),
        p99FromPlanned: m('p99FromPlanned'),
        p99Rounds: rounds[i].map((f) => f.p99),
      });
    });
  }
  return {
    capacityPerSec: cap,
    warmupMs: cfg.warmupMs,
    measureMs: cfg.measureMs,
    rounds: cfg.rounds,
    rows,
  };
}

/** Timing, statistics and printing shared by the scenarios. */
import { rng } from './rng.js';

export const QUICK = process.env.BENCH_QUICK === '1';

/** Seed of the order contenders run in each round: BENCH_SEED replays a run's order. */
export const SEED =
  process.env.BENCH_SEED === undefined
    ? Math.floor(Math.random() * 2 ** 31)
    : Number(process.env.BENCH_SEED);
const orderRandom = rng(SEED);

/** A fresh order of `0..n-1` (Fisher-Yates on the seeded generator). */
export function shuffledOrder(n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(orderRandom() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

const gcFn = (globalThis as { gc?: () => void }).gc;

export function hasGc(): boolean {
  return gcFn !== undefined;
}

/** Full collection, twice: the second one catches what finalizers of the first freed. */
export function gc(): void {
  if (gcFn === undefined) return;
  gcFn();
  gcFn();
}

export const now = (): number => performance.now();

/** A macrotask turn: lets timers and I/O run between measurements. */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Counts completions and resolves once `goal` of them arrived. */
export class Latch {
  count = 0;
  private goal = 0;
  private wake: () => void = () => {};

  arm(goal: number): Promise<void> {
    this.count = 0;
    this.goal = goal;
    return new Promise((resolve) => (this.wake = resolve));
  }

  // A bound arrow so it can be passed as a callback without a closure per task.
  readonly hit = (): void => {
    if (++this.count === this.goal) this.wake();
  };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface Contender {
  name: string;
  /** Runs one batch of `n` tasks; resolves once all are done and their results delivered. */
  run(n: number): Promise<void>;
}

export interface ThroughputResult {
  name: string;
  /** Median over rounds, tasks per second. */
  opsPerSec: number;
  min: number;
  max: number;
  samples: number[];
}

export interface CompareOptions {
  /** Tasks per batch: the backlog a batch builds before it drains. */
  batch: number;
  /** Each contender runs whole batches for at least this long per round. */
  minMs: number;
  rounds: number;
  /** Unreported rounds first, for the JIT. */
  warmup?: number;
  /**
   * Unmeasured batches before each sample, at least this long: after the forced GC the
   * young generation starts small and must grow back to the workload's steady state.
   */
  settleMs?: number;
}

/**
 * Runs every contender once per round, in an order shuffled each round (seeded, see SEED)
 * so a noisy neighbour or a GC carried over from the contender before hurts all alike, and
 * no contender always follows the same one; a round of one contender repeats batches for
 * `minMs`, so slow peers cost time, not precision. Reports the median.
 */
export async function compare(
  contenders: readonly Contender[],
  o: CompareOptions,
): Promise<ThroughputResult[]> {
  const samples = contenders.map(() => [] as number[]);
  const warmup = o.warmup ?? 1;
  for (let r = 0; r < warmup + o.rounds; r++) {
    for (const i of shuffledOrder(contenders.length)) {
      // No forced GC here: V8 drops optimized code on it, and re-warming would be measured.
      await tick();
      const settle = now();
      do await contenders[i].run(o.batch);
      while (now() - settle < (o.settleMs ?? o.minMs / 2));
      let tasks = 0;
      const t0 = now();
      let ms = 0;
      do {
        await contenders[i].run(o.batch);
        tasks += o.batch;
        ms = now() - t0;
      } while (ms < o.minMs);
      if (r >= warmup) samples[i].push((tasks * 1000) / ms);
    }
  }
  return contenders.map((c, i) => ({
    name: c.name,
    opsPerSec: median(samples[i]),
    min: Math.min(...samples[i]),
    max: Math.max(...samples[i]),
    samples: samples[i].map(Math.round),
  }));
}

export function fmtRate(opsPerSec: number): string {
  if (opsPerSec >= 1e6) return `${(opsPerSec / 1e6).toFixed(2)} M/s`;
  if (opsPerSec >= 1e3) return `${(opsPerSec / 1e3).toFixed(1)} k/s`;
  return `${opsPerSec.toFixed(0)} /s`;
}

export function fmtRatio(x: number): string {
  return Number.isFinite(x) ? `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}x` : '-';
}

export function fmtBytes(b: number): string {
  const sign = b < 0 ? '-' : '';
  const a = Math.abs(b);
  if (a >= 1 << 20) return `${sign}${(a / (1 << 20)).toFixed(1)} MiB`;
  if (a >= 1 << 10) return `${sign}${(a / (1 << 10)).toFixed(1)} KiB`;
  return `${sign}${a.toFixed(0)} B`;
}

export function fmtMs(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`;
}

/** A plain text table; numbers right-aligned. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

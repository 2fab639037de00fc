import { type Histogram, build } from 'hdr-histogram-js';

/** Milliseconds, from a histogram kept in microseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface LatencyStats {
  /** From acceptance to the first attempt's start. */
  wait: LatencySummary;
  /** From an attempt's start to the task's settlement (the last attempt's run). */
  run: LatencySummary;
}

function histogram(): Histogram {
  // 2 significant digits from 1 µs up; it grows to any value it meets.
  return build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 2 });
}

/** How long one window of recent latency lasts: `recent` covers the last one to two. */
export const RECENT_WINDOW_MS = 30_000;

/** One window's wait and run histograms, and when it began. */
class Window {
  readonly wait = histogram();
  readonly run = histogram();
  startedAt = -Infinity;

  reset(at: number): void {
    this.wait.reset();
    this.run.reset();
    this.startedAt = at;
  }
}

/**
 * Wait- and run-time histograms of one task type (HdrHistogram: bounded memory, exact
 * percentiles to 1%): since the start, and over the last 30 to 60 s in two rotating
 * windows, so a live view shows what latency is now, not an average of the pool's life.
 */
export class LatencyRecorder {
  readonly wait = histogram();
  readonly run = histogram();
  private current = new Window();
  private previous = new Window();

  recordWait(ms: number, at: number): void {
    const us = Math.max(1, Math.round(ms * 1000));
    this.wait.recordValue(us);
    this.window(at).wait.recordValue(us);
  }

  recordRun(ms: number, at: number): void {
    const us = Math.max(1, Math.round(ms * 1000));
    this.run.recordValue(us);
    this.window(at).run.recordValue(us);
  }

  // Rotates on a record, not on a timer: an idle type costs nothing.
  private window(at: number): Window {
    if (at - this.current.startedAt < RECENT_WINDOW_MS) return this.current;
    const old = this.previous;
    this.previous = this.current;
    this.current = old;
    this.current.reset(at);
    return this.current;
  }

  /** The summary of several recorders together (the pool's, from its types'). */
  static merge(recorders: LatencyRecorder[]): LatencyStats {
    const wait = histogram();
    const run = histogram();
    for (const r of recorders) {
      wait.add(r.wait);
      run.add(r.run);
    }
    return { wait: summarize(wait), run: summarize(run) };
  }

  /** The same over the windows that began within the last 60 s before `at`. */
  static mergeRecent(recorders: LatencyRecorder[], at: number): LatencyStats {
    const wait = histogram();
    const run = histogram();
    for (const r of recorders) {
      for (const w of [r.previous, r.current]) {
        if (at - w.startedAt >= 2 * RECENT_WINDOW_MS) continue;
        wait.add(w.wait);
        run.add(w.run);
      }
    }
    return { wait: summarize(wait), run: summarize(run) };
  }
}

function summarize(h: Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us) / 1000;
  // A percentile is its bucket's highest equivalent value, which can lie above the exact
  // maximum recorded (143,359 for a max of 143,000 µs); no value recorded exceeds the max.
  const at = (percentile: number) => ms(Math.min(h.getValueAtPercentile(percentile), h.maxValue));
  return {
    count: h.totalCount,
    p50: at(50),
    p95: at(95),
    p99: at(99),
    max: ms(h.maxValue),
  };
}

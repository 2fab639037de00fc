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

/** Wait- and run-time histograms of one task type (HdrHistogram: bounded memory, exact percentiles to 1%). */
export class LatencyRecorder {
  readonly wait = histogram();
  readonly run = histogram();

  recordWait(ms: number): void {
    this.wait.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  recordRun(ms: number): void {
    this.run.recordValue(Math.max(1, Math.round(ms * 1000)));
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

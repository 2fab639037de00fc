/** Monotonic ms. Read through the global so test clocks (fake timers) apply. */
export const now = (): number => globalThis.performance.now();

/**
 * Busy time of run loops, with no clock read per task: a loop is busy from the moment it
 * starts until it finds its lane empty, so the clock is read once per burst of work and
 * never while a lane stays saturated.
 */
export class BusyMeter {
  /** Busy time of loops that have ended. */
  private closed = 0;
  private open = 0;
  /** Sum of the start times of open loops: busy(now) = closed + open * now - openSince. */
  private openSince = 0;

  started(at: number): void {
    this.open++;
    this.openSince += at;
  }

  ended(at: number, startedAt: number): void {
    this.open--;
    this.openSince -= startedAt;
    this.closed += at - startedAt;
  }

  busyMs(at: number): number {
    return this.closed + this.open * at - this.openSince;
  }
}

/**
 * Maps task ids to the times they were accepted, from checkpoints rather than a stamp per
 * task. A checkpoint (id, t) says every task below `id` was accepted before `t`; the age of
 * a task is then known to within the spacing of checkpoints (taken at each burst start and
 * each `stats()` call), and reported as its lower bound so nothing looks older than it is.
 */
export class AcceptClock {
  private readonly ids = new Float64Array(CHECKPOINTS);
  private readonly times = new Float64Array(CHECKPOINTS);
  private count = 0;
  private head = 0;

  checkpoint(nextId: number, at: number): void {
    const last = (this.head + this.count - 1) % CHECKPOINTS;
    if (this.count > 0 && this.ids[last] === nextId) return;
    const slot = (this.head + this.count) % CHECKPOINTS;
    this.ids[slot] = nextId;
    this.times[slot] = at;
    if (this.count < CHECKPOINTS) this.count++;
    else this.head = (this.head + 1) % CHECKPOINTS;
  }

  /** Lower bound of the age of task `id` at `at`: time since the first checkpoint after it. */
  ageOf(id: number, at: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ids[(this.head + mid) % CHECKPOINTS] <= id) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.count) return 0;
    return Math.max(0, at - this.times[(this.head + lo) % CHECKPOINTS]);
  }
}

const CHECKPOINTS = 4096;

/**
 * Tasks finished per second over recent windows, from snapshots of the finished counter
 * taken when stats are read: nothing is done per task. A window is as exact as the
 * spacing of reads (the autoscaler reads every tick).
 */
export class ThroughputMeter {
  private readonly at: number[] = [];
  private readonly done: number[] = [];

  /** Records a snapshot and returns tasks/s over each window (ms), measured over the snapshots it spans. */
  rates(at: number, done: number, windows: readonly number[]): number[] {
    if (this.at.length === 0 || at - this.at[this.at.length - 1] >= 100) {
      this.at.push(at);
      this.done.push(done);
      const horizon = at - Math.max(...windows) - 1_000;
      while (this.at.length > 2 && this.at[1] < horizon) {
        this.at.shift();
        this.done.shift();
      }
    }
    return windows.map((w) => {
      let i = 0;
      while (i < this.at.length - 1 && this.at[i] < at - w) i++;
      const span = at - this.at[i];
      return span > 0 ? Math.round(((done - this.done[i]) * 1000) / span) : 0;
    });
  }
}

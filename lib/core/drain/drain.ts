import type { DrainReport } from '../drain-report.js';
import { InvalidOptionError, TaskCancelledError } from '../errors.js';
import type { SessionTable } from '../lanes/session-table.js';
import { MAX_TIMER_MS, checkDelay, checkKeys } from '../options.js';
import type { DrainOptions } from '../submit-options.js';
import type { Outcomes } from '../outcomes.js';
import type { RateLimits } from '../rate-limits.js';
import type { RunLoops } from '../run/run-loops.js';
import type { Cutoff } from './cutoff.js';

/**
 * One drain of a pool: waits until nothing is pending; at `deadlineMs` cancels what is
 * still queued and aborts running handlers' signals; `graceMs` later abandons the handlers
 * still running (what each step does to the work is Cutoff's). RunLoops calls `checkIdle()`
 * whenever work may have finished.
 *
 * Invariant: the deadline and the abandonment are the soonest any call asked for: a later
 * call (`bound`) may bring either forward, never put it back.
 */
export class Drain {
  readonly report: DrainReport = {
    completed: 0,
    failed: 0,
    cancelled: 0,
    cancelledTasks: [],
    abandonedTasks: [],
    runningAtDeadline: 0,
    deadlineReached: false,
    durationMs: 0,
  };
  private idle: (() => void) | undefined;
  /** Epoch ms of the deadline and of the abandonment after it; Infinity: none. */
  private deadlineAt = Infinity;
  private abandonAt = Infinity;
  private timer: NodeJS.Timeout | undefined;
  private grace: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    private readonly loops: Pick<RunLoops, 'pending' | 'running'>,
    private readonly cutoff: Cutoff,
    private readonly sessions: Pick<SessionTable, 'dropIdle'>,
    private readonly limits: Pick<RateLimits, 'clear'>,
    private readonly outcomes: Outcomes,
  ) {}

  /** Checks a drain's deadline and options; returns its grace period (default 5 s). */
  static check(deadlineMs: number, options: DrainOptions): number {
    checkDelay('deadlineMs', deadlineMs, true);
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError('options', options, 'an object such as { graceMs: 5000 }');
    }
    checkKeys(options, ['graceMs']);
    const graceMs = options.graceMs ?? 5_000;
    checkDelay('graceMs', graceMs, true);
    return graceMs;
  }

  checkIdle(): void {
    if (this.idle !== undefined && this.loops.pending === 0) this.idle();
  }

  /** Resolves with the report; `stopped` runs once the pool is idle, before `drained` is published. */
  async run(deadlineMs: number, graceMs: number, stopped: () => void): Promise<DrainReport> {
    const began = Date.now();
    const { counts } = this.outcomes;
    const before = { ...counts };
    const report = (this.outcomes.report = this.report);
    const idle = new Promise<void>((resolve) => (this.idle = resolve));
    this.checkIdle();
    this.bound(deadlineMs, graceMs);
    await idle;
    this.done = true;
    clearTimeout(this.timer);
    clearTimeout(this.grace);
    // Work a limiter still holds back was withdrawn by its callers: drop it and its timers.
    this.limits.clear();
    this.sessions.dropIdle(); // a stopped pool keeps no session state
    this.idle = undefined;
    stopped();
    report.completed = counts.completed - before.completed;
    report.failed = counts.failed - before.failed + (counts.timedOut - before.timedOut);
    report.cancelled = report.cancelledTasks.length;
    report.durationMs = Date.now() - began;
    if (this.outcomes.watched) {
      this.outcomes.publish({
        type: 'drained',
        completed: report.completed,
        failed: report.failed,
        cancelled: report.cancelled,
      });
    }
    this.outcomes.complete();
    return report;
  }

  /**
   * A deadline `deadlineMs` from now, with `graceMs` after it, where sooner than the ones in
   * force (a shutdown that must end in time, after a drain without a deadline began).
   */
  bound(deadlineMs: number, graceMs: number): void {
    if (this.done) return;
    const at = Date.now() + deadlineMs;
    if (!this.report.deadlineReached && at < this.deadlineAt) {
      clearTimeout(this.timer);
      this.deadlineAt = at;
      this.timer = setTimeout(() => this.deadline(), deadlineMs);
    }
    if (at + graceMs < this.abandonAt) {
      this.abandonAt = at + graceMs;
      if (this.report.deadlineReached) this.abandonLater();
    }
  }

  private deadline(): void {
    const report = this.report;
    report.deadlineReached = true;
    report.runningAtDeadline = this.loops.running;
    this.abandonLater();
    // Running handlers are awaited, but told to stop through ctx.signal.
    this.cutoff.abortRunning((taskId) => new TaskCancelledError(taskId, 'deadline'));
    this.cutoff.cancelQueued((task) =>
      this.outcomes.cancel(task, new TaskCancelledError(task.taskId, 'shutdown')),
    );
    this.checkIdle();
  }

  private abandonLater(): void {
    if (this.abandonAt === Infinity) return;
    clearTimeout(this.grace);
    const graceMs = this.abandonAt - this.deadlineAt;
    const delay = Math.max(0, this.abandonAt - Date.now());
    // A deadline and a grace may each be up to MAX_TIMER_MS: wait their sum in steps.
    this.grace =
      delay > MAX_TIMER_MS
        ? setTimeout(() => this.abandonLater(), MAX_TIMER_MS)
        : setTimeout(() => this.abandon(graceMs), delay);
  }

  // The grace period after the deadline is over: give up on what still runs.
  private abandon(graceMs: number): void {
    this.cutoff.abandon((task) => this.outcomes.abandon(task, graceMs, this.report));
    this.checkIdle();
  }
}

import type { DrainReport } from './drain-report.js';
import { InvalidOptionError, TaskCancelledError } from './errors.js';
import { checkDelay, checkKeys } from './options.js';
import type { DrainOptions } from './submit-options.js';
import type { Outcomes } from './outcomes.js';
import type { Scheduler } from './scheduler.js';

/**
 * One drain of a pool: waits until nothing is pending; at `deadlineMs` cancels what is
 * still queued and aborts running handlers' signals; `graceMs` later abandons the handlers
 * still running. The pool calls `checkIdle()` whenever work may have finished.
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

  constructor(
    private readonly scheduler: Scheduler,
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
    if (this.idle !== undefined && this.scheduler.pending === 0) this.idle();
  }

  /** Resolves with the report; `stopped` runs once the pool is idle, before `drained` is published. */
  async run(deadlineMs: number, graceMs: number, stopped: () => void): Promise<DrainReport> {
    const began = Date.now();
    const { counts } = this.outcomes;
    const before = { ...counts };
    const report = (this.outcomes.report = this.report);
    const idle = new Promise<void>((resolve) => (this.idle = resolve));
    this.checkIdle();
    let timer: NodeJS.Timeout | undefined;
    let grace: NodeJS.Timeout | undefined;
    if (deadlineMs !== Infinity) {
      timer = setTimeout(() => {
        if (graceMs !== Infinity) grace = setTimeout(() => this.abandon(graceMs), graceMs);
        report.deadlineReached = true;
        report.runningAtDeadline = this.scheduler.running;
        // Running handlers are awaited, but told to stop through ctx.signal.
        this.scheduler.abortRunning((taskId) => new TaskCancelledError(taskId, 'deadline'));
        this.scheduler.cancelQueued((task) =>
          this.outcomes.cancel(task, new TaskCancelledError(task.taskId, 'shutdown')),
        );
        this.checkIdle();
      }, deadlineMs);
    }
    await idle;
    clearTimeout(timer);
    clearTimeout(grace);
    // Work a limiter still holds back was withdrawn by its callers: drop it and its timers.
    this.scheduler.limits.clear();
    this.scheduler.dropIdle(); // a stopped pool keeps no session state
    this.idle = undefined;
    stopped();
    report.completed = counts.completed - before.completed;
    report.failed = counts.failed - before.failed + (counts.timedOut - before.timedOut);
    report.cancelled = report.cancelledTasks.length;
    report.durationMs = Date.now() - began;
    if (this.outcomes.observed) {
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

  // The grace period after the deadline is over: give up on what still runs.
  private abandon(graceMs: number): void {
    this.scheduler.abandon((task) => this.outcomes.abandon(task, graceMs, this.report));
    this.checkIdle();
  }
}

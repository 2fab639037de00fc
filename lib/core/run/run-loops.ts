import type { Batch } from '../batch.js';
import type { BatchGatherer } from '../batch-gatherer.js';
import { TaskCancelledError } from '../errors.js';
import { type TaskInstrument, endAttempt } from '../instrument.js';
import type { Admission } from '../intake/admission.js';
import { type Lane, type RunLoop, isDead } from '../lanes/lane.js';
import type { LaneLifecycle } from '../lanes/lane-lifecycle.js';
import type { LaneSet } from '../lanes/lane-set.js';
import type { Session } from '../lanes/session.js';
import type { SessionTable } from '../lanes/session-table.js';
import type { WaitingWork } from '../lanes/waiting-work.js';
import { runInPool } from '../async-context.js';
import { AcceptClock, now } from '../load-meter.js';
import type { Outcomes } from '../outcomes.js';
import type { UnkeyedPlacement } from '../placement/unkeyed-placement.js';
import type { RateLimits } from '../rate-limits.js';
import { ReadyKind } from '../ready-queue.js';
import { type Task, TaskState } from '../task.js';
import { runTimed, runTimedTask } from './timeout.js';

/** What run loops tell of a task's life: its start, whether it retries, how it ended. */
export type TaskOutcomes = Pick<
  Outcomes,
  'started' | 'batchStarted' | 'retryDelay' | 'settle' | 'cancel' | 'counts'
>;

/** A drain under way: told whenever the pool may have run out of work. */
export interface IdleWatch {
  checkIdle(): void;
}

/** One late handler: a task's attempt still running past its timeout. */
interface LateRun {
  task: Task;
}

/**
 * Run loops take the work WaitingWork keeps ready on their lane, run handlers (and batches)
 * against their timeouts, and settle, retry or release what follows: outcomes go to
 * Outcomes, freed queue room to Admission, the session's next task back to WaitingWork.
 * Also withdraws work that has not started.
 *
 * Invariant: `running` equals the sum over lanes, live and retiring; a session's next task
 * starts only once its running task (and, unless overlapOnTimeout, its late handler) settled.
 */
export class RunLoops {
  running = 0;
  readonly accepted = new AcceptClock();
  /**
   * Tasks waiting out a retry backoff. Each holds its session (nothing else of the session
   * starts meanwhile) but no lane slot.
   */
  readonly delayed = new Map<Task, NodeJS.Timeout>();
  /** Set at the drain deadline: nothing queued or retried starts after it. */
  closed = false;
  /** Handlers still running past their timeout; drain waits for them too. */
  readonly late = new Map<LateRun, number>();
  /** The pool's `instrument` option: called around each attempt (see instrument.ts). */
  instrument: TaskInstrument | undefined = undefined;
  /** Run loops start only once this is set. */
  started = false;
  /** The drain under way, if any. */
  drain: IdleWatch | undefined = undefined;
  private readonly limits: RateLimits;
  private readonly gatherer: BatchGatherer;

  constructor(
    private readonly lanes: LaneSet,
    private readonly lifecycle: LaneLifecycle,
    private readonly sessions: SessionTable,
    private readonly work: WaitingWork,
    /** Set with `stealUnkeyed`: a lane that runs dry takes waiting unkeyed tasks from others. */
    private readonly unkeyed: UnkeyedPlacement | undefined,
    private readonly admission: Pick<Admission, 'released'>,
    private readonly outcomes: TaskOutcomes,
  ) {
    this.limits = work.limits;
    this.gatherer = work.gatherer;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const lane of this.lanes.byId.values()) this.wake(lane);
  }

  private wake(lane: Lane): void {
    while (lane.slots < lane.concurrency && lane.slots < lane.ready.length) {
      lane.slots++;
      void runInPool(this, this.runSlot, lane);
    }
  }

  // One run loop: it lives while its lane has ready work, so a busy lane pays no
  // wake-up per task. Handlers start on a fresh microtask, never inside submit().
  async runSlot(lane: Lane): Promise<void> {
    await undefined;
    const startedAt = now();
    lane.busy.started(startedAt);
    this.accepted.checkpoint(this.work.lastTaskId + 1, startedAt);
    // Known per loop, not per task, so the running tasks can be reached at a deadline.
    const loop: RunLoop = { task: undefined, batch: undefined, startedAt, abandoned: false };
    lane.loops.add(loop);
    let task: Task | Batch | undefined;
    while ((task = this.take(lane)) !== undefined) {
      if (task.kind === ReadyKind.Batch) {
        loop.batch = task;
        await this.runBatch(lane, task);
        if (loop.abandoned) return; // a forced drain freed its slot already
        loop.batch = undefined;
        continue;
      }
      loop.task = task;
      let ok = true;
      let value: unknown;
      try {
        const timeoutMs = task.policy.timeoutMs;
        const run = task.call(this.instrument);
        value = await (timeoutMs === undefined ? run : runTimedTask(run, task, timeoutMs));
      } catch (error) {
        ok = false;
        value = error;
      }
      loop.task = undefined;
      this.finish(lane, task, ok, value);
      if (loop.abandoned) return; // a forced drain freed its slot already
    }
    lane.loops.delete(loop);
    lane.slots--;
    lane.busy.ended(now(), startedAt);
    if (lane.removed && lane.slots === 0 && lane.running === 0) this.lifecycle.retire(lane);
  }

  /** One call of a batch handler; then each task settles (or retries) on its own. */
  private async runBatch(lane: Lane, batch: Batch): Promise<void> {
    let ok = true;
    let value: unknown;
    try {
      const timeoutMs = batch.timeoutMs;
      const run = batch.call(this.instrument);
      value = await (timeoutMs === undefined
        ? run
        : runTimed(run, batch.tasks[0].taskId, timeoutMs, (e, zombie) => batch.expire(e, zombie)));
    } catch (error) {
      ok = false;
      value = error;
    }
    const tasks = batch.tasks;
    for (let i = 0; i < tasks.length; i++) {
      const [itemOk, itemValue] = batch.outcome(i, ok, value);
      this.finish(lane, tasks[i], itemOk, itemValue);
    }
  }

  /** The next task (or full batch) to run on `lane`, counted as running; undefined if none. */
  private take(lane: Lane): Task | Batch | undefined {
    if (lane.removed) return undefined;
    for (;;) {
      const next = this.pick(lane);
      if (next === undefined) {
        const closed = lane.batches.size === 0 ? undefined : this.gatherer.closeZeroWait(lane);
        return closed === undefined ? undefined : this.beginBatch(lane, closed);
      }
      if (next.kind === ReadyKind.Batch) return this.beginBatch(lane, next);
      if (next.handler.batch === undefined) {
        this.begin(lane, next);
        return next;
      }
      const full = this.gatherer.add(lane, next);
      if (full !== undefined) return this.beginBatch(lane, full);
    }
  }

  /** Takes the lane's next ready work: an unkeyed task, a session's head task or a closed batch. */
  private pick(lane: Lane): Task | Batch | undefined {
    let item: Session | Task | Batch | undefined;
    for (;;) {
      item = lane.ready.shift();
      if (item === undefined) {
        // Unkeyed work may leave a busy lane for one that ran dry; keyed work never does.
        // Stolen work would skip the pool's rate limit.
        return this.unkeyed === undefined || this.limits.pool !== undefined
          ? undefined
          : this.unkeyed.steal(lane);
      }
      if (item.kind === ReadyKind.Task) {
        if (item.state !== TaskState.Queued) continue; // withdrawn by its caller, or stolen
        if (this.limits.holds(item, item)) continue;
        return item;
      }
      if (item.kind === ReadyKind.Batch) {
        if (item.size === 0) continue; // every task it had was withdrawn
        return item;
      }
      if (item.size === 0) continue; // every task it had was withdrawn
      if (this.limits.holds(item.head!, item)) continue;
      item.running = true;
      return item.shift()!;
    }
  }

  private begin(lane: Lane, task: Task): void {
    task.state = TaskState.Running;
    task.laneId = lane.id;
    lane.queued--;
    lane.running++;
    this.work.queued--;
    this.running++;
    // Its queue room (pool and session) is free again.
    this.admission.released(task.session?.id);
    this.outcomes.started(task);
  }

  private beginBatch(lane: Lane, batch: Batch): Batch {
    lane.batches.delete(batch);
    for (const task of batch.tasks) this.begin(lane, task);
    this.outcomes.batchStarted(batch);
    return batch;
  }

  private finish(lane: Lane, task: Task, ok: boolean, value: unknown): void {
    if (task.state === TaskState.Abandoned) return this.abandonedSettled();
    lane.running--;
    this.running--;
    // A handler running on past its timeout is tracked per attempt, and before the caller
    // hears of the outcome, so that no drain sees the pool idle meanwhile.
    const zombie = task.extra?.zombie;
    if (zombie !== undefined) task.extra!.zombie = undefined;
    const late: LateRun | undefined = zombie === undefined ? undefined : { task };
    if (late !== undefined) this.late.set(late, now());
    const delay = ok ? undefined : this.outcomes.retryDelay(task, value);
    if (this.instrument !== undefined)
      endAttempt(this.instrument, task, ok, value, delay !== undefined);
    if (delay === undefined) {
      task.state = TaskState.Done;
      // The caller learns the outcome now, even if a timed-out handler runs on.
      this.outcomes.settle(task, ok, value);
      this.checkIdle();
    } else {
      task.state = TaskState.Delayed;
    }
    if (late === undefined) return this.next(task, delay);
    const holds = !task.policy.overlapOnTimeout;
    if (!holds) this.next(task, delay);
    void zombie!.then(() => {
      // Gone from `late`: a forced drain abandoned it meanwhile.
      if (!this.late.delete(late)) return this.abandonedSettled();
      if (holds) this.next(task, delay);
      this.checkIdle();
    });
  }

  /** What follows an attempt: its retry after `delay`, or the session's next task. */
  private next(task: Task, delay: number | undefined): void {
    // Its caller withdrew it while a late handler held its retry back.
    if (delay !== undefined && task.state !== TaskState.Delayed) delay = undefined;
    if (delay !== undefined && this.closed) {
      // Past the drain deadline nothing starts again: the retry is cancelled instead.
      task.state = TaskState.Done;
      this.outcomes.cancel(task, new TaskCancelledError(task.taskId, 'shutdown'));
      this.checkIdle();
      delay = undefined;
    }
    if (delay !== undefined) this.postpone(task, delay);
    else if (task.session !== undefined) this.work.release(task.session);
  }

  /**
   * Takes a task that has not started (queued, or waiting to retry) out of the pool.
   * False if it is running or done.
   */
  withdraw(task: Task): boolean {
    if (task.state === TaskState.Delayed) {
      task.state = TaskState.Done;
      const timer = this.delayed.get(task);
      // Still behind its late handler: next() releases the session when that returns.
      if (timer === undefined) return true;
      clearTimeout(timer);
      this.delayed.delete(task);
      if (task.session !== undefined) this.work.release(task.session);
      return true;
    }
    if (task.state === TaskState.Batched) return this.unjoin(task);
    if (task.state !== TaskState.Queued) return false;
    task.state = TaskState.Done;
    task.payload = undefined; // a tombstone left behind holds no user data
    this.work.queued--;
    const s = task.session;
    if (s === undefined) {
      // Left in its ready queue (or a rate limiter) as a tombstone that is skipped. A task a
      // limiter held back may name a lane removed meanwhile, retiring or gone.
      const lane = this.lanes.byId.get(task.laneId) ?? this.lanes.home(task.laneId);
      if (lane !== undefined) {
        lane.queued--;
        lane.ready.died(isDead);
      }
    } else {
      s.remove(task);
      s.lane.queued--;
      // A session left empty and idle is dropped now; a stale ready entry is skipped.
      if (s.size === 0 && !s.running) {
        this.sessions.byId.delete(s.id);
        s.lane.ready.died(isDead);
      }
    }
    this.admission.released(task.session?.id);
    return true;
  }

  // A gathered task is on a live lane: a removed lane gives its batches back at once.
  private unjoin(task: Task): true {
    const lane = this.lanes.byId.get(task.laneId)!;
    this.gatherer.leave(lane, task);
    task.state = TaskState.Done;
    this.work.queued--;
    lane.queued--;
    if (task.session !== undefined) this.work.release(task.session);
    this.admission.released(task.session?.id);
    return true;
  }

  /** Tasks queued, running or waiting to retry: zero when the pool has nothing left to do. */
  get pending(): number {
    return this.work.queued + this.running + this.delayed.size + this.late.size;
  }

  // The session stays marked running, so its later tasks wait behind the retry.
  private postpone(task: Task, delayMs: number): void {
    this.delayed.set(
      task,
      setTimeout(() => {
        this.delayed.delete(task);
        task.attempt++;
        task.state = TaskState.Queued;
        task.resetSignal(); // each attempt gets its own ctx.signal
        this.work.queued++;
        const s = task.session;
        if (s === undefined) return this.work.place(task);
        s.unshift(task);
        s.lane.queued++;
        this.work.release(s);
      }, delayMs),
    );
  }

  /** Late handlers running longer than twice their timeout: the sign of a stuck lane. */
  overdue(at: number): number {
    let n = 0;
    for (const [{ task }, timedOutAt] of this.late)
      if (at - timedOutAt > (task.policy.timeoutMs ?? 0)) n++;
    return n;
  }

  /** Work may have finished: a drain under way checks whether the pool is idle. */
  checkIdle(): void {
    this.drain?.checkIdle();
  }

  // A handler the pool abandoned has settled after all: only counted.
  private abandonedSettled(): void {
    this.outcomes.counts.lateSettlements++;
  }
}

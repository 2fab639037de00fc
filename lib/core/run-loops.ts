import type { Batch } from './batch.js';
import type { Lane, RunLoop } from './lane.js';
import { type Placement, LanePlacement, isDead } from './lane-placement.js';
import { type TaskInstrument, endAttempt } from './instrument.js';
import { AcceptClock, now } from './load-meter.js';
import { ReadyKind } from './ready-queue.js';
import type { Session } from './session.js';
import { type Task, TaskState } from './task.js';
import { runTimed, runTimedTask } from './timeout.js';

export interface SchedulerHooks {
  /** A queued task started: its queue slot (pool and session) is free again. */
  started(task: Task): void;
  /** A handler threw: milliseconds to wait before running the task again, or undefined to let it fail. */
  retryDelay(task: Task, error: unknown): number | undefined;
  /** A task's handler returned or threw (for the last time). */
  finished(task: Task, ok: boolean, value: unknown): void;
  /** A waiting task was withdrawn: its queue room is free. */
  withdrawn(task: Task): void;
  /** A handler the pool abandoned has settled after all: only counted. */
  abandonedSettled(task: Task): void;
  /** A retry that would start after the drain deadline: it is cancelled instead. */
  expired(task: Task): void;
  /** A handler that ran past its timeout has returned: the pool may have become idle. */
  lateSettled(): void;
  /** A batch handler was called with `batch.tasks` (each also reported as `started`). */
  batchStarted(batch: Batch): void;
}

/** One late handler: a task's attempt still running past its timeout. */
interface LateRun {
  task: Task;
}

/**
 * Runs the work that LanePlacement keeps: run loops take ready work from their lane, run
 * handlers (and batches) against their timeouts, and settle, retry or release what follows.
 * Also withdraws queued work. (Scheduler adds what a drain does at its deadline.)
 *
 * Invariant: `running` equals the sum over lanes, live and retiring; a session's next task
 * starts only once its running task (and, unless overlapOnTimeout, its late handler) settled.
 */
export abstract class RunLoops extends LanePlacement {
  running = 0;
  readonly accepted = new AcceptClock();
  /**
   * Tasks waiting out a retry backoff. Each holds its session (nothing else of the session
   * starts meanwhile) but no lane slot.
   */
  readonly delayed = new Map<Task, NodeJS.Timeout>();
  /** Set at the drain deadline: nothing queued or retried starts after it. */
  protected closed = false;
  /** Handlers still running past their timeout; drain waits for them too. */
  readonly late = new Map<LateRun, number>();
  /** The pool's `instrument` option: called around each attempt (see instrument.ts). */
  instrument: TaskInstrument | undefined = undefined;

  constructor(
    laneConcurrency: number,
    private readonly hooks: SchedulerHooks,
    placement: Placement = { strategy: 'least-loaded', steal: false, betweenTasks: false },
  ) {
    super(laneConcurrency, placement);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const lane of this.lanes.values()) this.wake(lane);
  }

  // One run loop: it lives while its lane has ready work, so a busy lane pays no
  // wake-up per task. Handlers start on a fresh microtask, never inside submit().
  protected async runSlot(lane: Lane): Promise<void> {
    await undefined;
    const startedAt = now();
    lane.busy.started(startedAt);
    this.accepted.checkpoint(this.lastTaskId + 1, startedAt);
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
    if (lane.removed && lane.slots === 0 && lane.running === 0) this.retire(lane);
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
        return this.placement.steal ? this.steal(lane) : undefined;
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
    this.queued--;
    this.running++;
    this.hooks.started(task);
  }

  private beginBatch(lane: Lane, batch: Batch): Batch {
    lane.batches.delete(batch);
    for (const task of batch.tasks) this.begin(lane, task);
    this.hooks.batchStarted(batch);
    return batch;
  }

  private finish(lane: Lane, task: Task, ok: boolean, value: unknown): void {
    if (task.state === TaskState.Abandoned) return this.hooks.abandonedSettled(task);
    lane.running--;
    this.running--;
    // A handler running on past its timeout is tracked per attempt, and before the caller
    // hears of the outcome, so that no drain sees the pool idle meanwhile.
    const zombie = task.extra?.zombie;
    if (zombie !== undefined) task.extra!.zombie = undefined;
    const late: LateRun | undefined = zombie === undefined ? undefined : { task };
    if (late !== undefined) this.late.set(late, now());
    const delay = ok ? undefined : this.hooks.retryDelay(task, value);
    if (this.instrument !== undefined)
      endAttempt(this.instrument, task, ok, value, delay !== undefined);
    if (delay === undefined) {
      task.state = TaskState.Done;
      // The caller learns the outcome now, even if a timed-out handler runs on.
      this.hooks.finished(task, ok, value);
    } else {
      task.state = TaskState.Delayed;
    }
    if (late === undefined) return this.next(task, delay);
    const holds = !task.policy.overlapOnTimeout;
    if (!holds) this.next(task, delay);
    void zombie!.then(() => {
      // Gone from `late`: a forced drain abandoned it meanwhile.
      if (!this.late.delete(late)) return this.hooks.abandonedSettled(task);
      if (holds) this.next(task, delay);
      this.hooks.lateSettled();
    });
  }

  /** What follows an attempt: its retry after `delay`, or the session's next task. */
  private next(task: Task, delay: number | undefined): void {
    // Its caller withdrew it while a late handler held its retry back.
    if (delay !== undefined && task.state !== TaskState.Delayed) delay = undefined;
    if (delay !== undefined && this.closed) {
      // Past the drain deadline nothing starts again: the retry is cancelled instead.
      task.state = TaskState.Done;
      this.hooks.expired(task);
      delay = undefined;
    }
    if (delay !== undefined) this.postpone(task, delay);
    else if (task.session !== undefined) this.release(task.session);
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
      if (task.session !== undefined) this.release(task.session);
      return true;
    }
    if (task.state === TaskState.Batched) return this.unjoin(task);
    if (task.state !== TaskState.Queued) return false;
    task.state = TaskState.Done;
    task.payload = undefined; // a tombstone left behind holds no user data
    this.queued--;
    const s = task.session;
    if (s === undefined) {
      // Left in its ready queue (or a rate limiter) as a tombstone that is skipped. A task a
      // limiter held back may name a lane removed meanwhile, retiring or gone.
      const lane = this.lanes.get(task.laneId) ?? this.home(task.laneId);
      if (lane !== undefined) {
        lane.queued--;
        lane.ready.died(isDead);
      }
    } else {
      s.remove(task);
      s.lane.queued--;
      // A session left empty and idle is dropped now; a stale ready entry is skipped.
      if (s.size === 0 && !s.running) {
        this.sessions.delete(s.id);
        s.lane.ready.died(isDead);
      }
    }
    this.hooks.withdrawn(task);
    return true;
  }

  // A gathered task is on a live lane: a removed lane gives its batches back at once.
  private unjoin(task: Task): true {
    const lane = this.lanes.get(task.laneId)!;
    this.gatherer.leave(lane, task);
    task.state = TaskState.Done;
    this.queued--;
    lane.queued--;
    if (task.session !== undefined) this.release(task.session);
    this.hooks.withdrawn(task);
    return true;
  }

  /** Tasks queued, running or waiting to retry: zero when the pool has nothing left to do. */
  get pending(): number {
    return this.queued + this.running + this.delayed.size + this.late.size;
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
        this.queued++;
        const s = task.session;
        if (s === undefined) return this.place(task);
        s.unshift(task);
        s.lane.queued++;
        this.release(s);
      }, delayMs),
    );
  }
}

import { Batch } from './batch.js';
import { BatchGatherer } from './batch-gatherer.js';
import { InvalidOptionError, UnknownLaneError } from './errors.js';
import { HashRing } from './hash-ring.js';
import { Lane, type RunLoop } from './lane.js';
import { AcceptClock, now } from './load-meter.js';
import { Deque } from './deque.js';
import { type Limitable, RateLimits } from './rate-limits.js';
import { ReadyKind } from './ready-queue.js';
import { Session } from './session.js';
import { Task, TaskState } from './task.js';
import { runTimed } from './timeout.js';

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

/** Told of lanes as they come and go (thread lanes keep one thread per lane). */
export interface LaneListener {
  /** A lane joined the ring. */
  added(laneId: number): void;
  /** A lane left the ring; its running tasks still finish. */
  removed(laneId: number): void;
  /** A removed lane's last running task has settled. */
  gone(laneId: number): void;
}

/**
 * Idle sessions kept for reuse, at most. A chatty session that goes idle between bursts is
 * then not rebuilt each time (a ring lookup, an allocation, a Map set and delete: about a
 * seventh of a keyed task's cost at 10 tasks per burst); the bound keeps a million distinct
 * sessions over time from costing more than this many small objects.
 */
export const IDLE_SESSIONS_KEPT = 1024;

/** How far into another lane's ready queue a lane that ran dry looks for unkeyed work. */
const STEAL_SCAN = 64;

/** One late handler: a task's attempt still running past its timeout. */
interface LateRun {
  task: Task;
}

export interface Placement {
  /** Unkeyed tasks: to the least-loaded lane, or round robin. */
  strategy: 'least-loaded' | 'round-robin';
  /** A lane that runs dry takes waiting unkeyed tasks from others. */
  steal: boolean;
  /** An active session follows a changed ring between two of its tasks (rebalance). */
  betweenTasks: boolean;
}

/**
 * Places tasks on lanes and runs them.
 *
 * Invariants:
 * - an active session (in `sessions`) keeps its lane until it is idle, whatever the ring
 *   says meanwhile; then its state is dropped, or kept in the idle cache: at most
 *   IDLE_SESSIONS_KEPT idle sessions stay in `sessions`, each homed where the ring says
 *   (the cache is emptied whenever the ring changes);
 * - when a session's lane is removed, the session follows the ring: at once if it is
 *   waiting in the lane's ready queue, or when its running task settles otherwise, so
 *   its next task never starts before the previous one has settled;
 * - `queued` / `running` equal the sums over lanes, live and retiring.
 */
export class Scheduler {
  readonly lanes = new Map<number, Lane>();
  /** `lanes` as an array: placing an unkeyed task scans it without an iterator. */
  private live: Lane[] = [];
  /** Active sessions, and the idle ones the cache keeps (`idleKept` of them). */
  readonly sessions = new Map<string, Session>();
  /** Idle sessions kept, oldest first; entries of sessions active again are skipped. */
  private readonly idle = new Deque<Session>();
  idleKept = 0;
  /** Removed lanes still finishing their running tasks. */
  readonly retiring = new Set<Lane>();
  queued = 0;
  running = 0;
  /** Id of the newest accepted task, for `accepted` checkpoints. */
  lastTaskId = 0;
  readonly accepted = new AcceptClock();
  /**
   * Tasks waiting out a retry backoff. Each holds its session (nothing else of the session
   * starts meanwhile) but no lane slot.
   */
  readonly delayed = new Map<Task, NodeJS.Timeout>();
  readonly limits = new RateLimits((item) => this.unpark(item));
  private readonly gatherer = new BatchGatherer({
    ready: (lane, batch) => this.makeReady(lane, batch),
    giveBack: (lane, task) => this.giveBack(lane, task),
  });
  /** Set at the drain deadline: nothing queued or retried starts after it. */
  private closed = false;
  /** Handlers still running past their timeout; drain waits for them too. */
  readonly late = new Map<LateRun, number>();
  /** Busy time of lanes that are gone. */
  retiredBusyMs = 0;
  private started = false;
  private readonly ring: HashRing;
  /** Counts ring changes, so a session can tell whether its place may be stale. */
  private ringVersion = 0;
  laneListener: LaneListener | undefined;

  constructor(
    private readonly laneConcurrency: number,
    virtualNodes: number,
    private readonly hooks: SchedulerHooks,
    private readonly placement: Placement = {
      strategy: 'least-loaded',
      steal: false,
      betweenTasks: false,
    },
  ) {
    this.ring = new HashRing(virtualNodes);
  }
  private roundRobin = 0;

  /** The session's state, created (and homed by the ring) on first use. */
  session(id: string): Session {
    return this.sessions.get(id) ?? this.open(id);
  }

  /** Creates the state of a session known to have none. */
  open(id: string): Session {
    const s = new Session(id, this.lanes.get(this.ring.lookup(id))!);
    s.homedAt = this.ringVersion;
    this.sessions.set(id, s);
    return s;
  }

  enqueue(task: Task): void {
    this.queued++;
    this.lastTaskId = task.taskId;
    const s = task.session;
    if (s === undefined) return this.place(task);
    if (s.cached) {
      s.cached = false;
      this.idleKept--;
    }
    s.push(task);
    s.lane.queued++;
    if (s.size === 1 && !s.running) this.makeReady(s.lane, s);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const lane of this.lanes.values()) this.wake(lane);
  }

  addLane(): Lane {
    let id = 0;
    while (this.lanes.has(id) || this.isRetiring(id)) id++;
    const lane = new Lane(id, this.laneConcurrency);
    this.lanes.set(id, lane);
    this.live = [...this.lanes.values()];
    this.ring.add(id);
    this.ringVersion++;
    this.dropIdle();
    this.laneListener?.added(id);
    return lane;
  }

  /** Takes the lane out of the ring and moves its waiting work; resolves once it is gone. */
  removeLane(id: number): Promise<void> {
    const lane = this.lanes.get(id);
    if (lane === undefined) throw new UnknownLaneError(id, [...this.lanes.keys()]);
    if (this.lanes.size === 1) {
      throw new InvalidOptionError(
        'laneId',
        id,
        'a lane other than the last one: a pool keeps at least one lane',
      );
    }
    this.lanes.delete(id);
    this.live = [...this.lanes.values()];
    this.ring.remove(id);
    this.ringVersion++;
    this.dropIdle();
    this.laneListener?.removed(id);
    lane.removed = true;
    // Batches not started yet give their tasks back, which then move like the rest.
    this.gatherer.giveBack(lane);
    lane.ready.drain((item) => {
      if (item instanceof Batch) return;
      if (item instanceof Task) {
        if (item.state !== TaskState.Queued) return; // a tombstone: withdrawn or stolen
        lane.queued--;
        this.place(item);
      } else if (item.size > 0) {
        this.rehome(item);
        this.makeReady(item.lane, item);
      }
    });
    if (lane.running === 0 && lane.slots === 0) {
      this.retire(lane); // its busy time stays in the total
      return Promise.resolve();
    }
    this.retiring.add(lane);
    return new Promise((resolve) => lane.gone.push(resolve));
  }

  /** Empties every queue, handing each waiting task to `each` in submission order per session. */
  cancelQueued(cancel: (task: Task) => void): void {
    this.closed = true;
    this.dropIdle();
    const each = (task: Task) => {
      task.state = TaskState.Done;
      cancel(task);
    };
    // A postponed task is its session's oldest: it goes first, and frees its session.
    for (const [task, timer] of this.delayed) {
      clearTimeout(timer);
      each(task);
      if (task.session !== undefined) task.session.running = false;
    }
    this.delayed.clear();
    // A batched task too is its session's oldest.
    for (const lane of [...this.lanes.values(), ...this.retiring]) {
      this.gatherer.cancel(lane, (task) => {
        each(task);
        if (task.session !== undefined) task.session.running = false;
      });
    }
    // Parked sessions' tasks go with the sessions below; parked unkeyed tasks go here.
    this.limits.clear((item) => {
      if (item instanceof Task && item.state === TaskState.Queued) each(item);
    });
    for (const s of this.sessions.values()) {
      let t: Task | undefined;
      while ((t = s.shift()) !== undefined) each(t);
      if (!s.running) this.sessions.delete(s.id);
    }
    for (const lane of [...this.lanes.values(), ...this.retiring]) {
      lane.ready.drain((item) => {
        if (item instanceof Task && item.state === TaskState.Queued) each(item);
      });
      lane.queued = 0;
    }
    this.queued = 0;
  }

  /** Aborts the ctx.signal of every running handler (a batch's and each of its tasks'). */
  abortRunning(reason: (taskId: number) => unknown): void {
    for (const lane of [...this.lanes.values(), ...this.retiring]) {
      for (const { task, batch } of lane.loops) {
        if (task !== undefined) task.abort(reason(task.taskId));
        if (batch !== undefined) {
          for (const t of batch.tasks) t.abort(reason(t.taskId));
          batch.abort(reason(batch.tasks[0].taskId));
        }
      }
    }
  }

  /**
   * Gives up on every handler still running (and every late one past its timeout), so the
   * pool can stop. Each running task is handed to `each` to settle its caller.
   */
  abandon(each: (task: Task) => void): void {
    const give = (task: Task) => {
      task.state = TaskState.Abandoned;
      const s = task.session;
      if (s !== undefined) {
        s.running = false;
        if (s.size === 0) this.sessions.delete(s.id);
      }
    };
    for (const lane of [...this.lanes.values(), ...this.retiring]) {
      for (const loop of lane.loops) {
        for (const task of loop.batch?.tasks ?? (loop.task === undefined ? [] : [loop.task])) {
          if (task.state !== TaskState.Running) continue;
          give(task);
          lane.running--;
          this.running--;
          each(task);
        }
      }
    }
    for (const { task } of this.late.keys()) {
      // A late handler's caller heard of its timeout already, unless a retry was to follow.
      const retrying = task.state === TaskState.Delayed;
      give(task);
      if (retrying) each(task);
    }
    this.late.clear();
  }

  /** Late handlers running longer than twice their timeout: the sign of a stuck lane. */
  overdue(at: number): number {
    let n = 0;
    for (const [{ task }, timedOutAt] of this.late)
      if (at - timedOutAt > (task.policy.timeoutMs ?? 0)) n++;
    return n;
  }

  /** Id of the longest-waiting task (the lowest queued id), or undefined if none waits. */
  oldestQueuedId(): number | undefined {
    let oldest = Infinity;
    for (const s of this.sessions.values())
      if (s.head !== undefined && s.head.taskId < oldest) oldest = s.head.taskId;
    for (const lane of [...this.lanes.values(), ...this.retiring]) {
      const first = lane.ready.find(
        (item): item is Task => item instanceof Task && item.state === TaskState.Queued,
      );
      if (first !== undefined && first.taskId < oldest) oldest = first.taskId;
      for (const batch of lane.batches)
        for (const task of batch.tasks) if (task.taskId < oldest) oldest = task.taskId;
    }
    return oldest === Infinity ? undefined : oldest;
  }

  private isRetiring(id: number): boolean {
    for (const lane of this.retiring) if (lane.id === id) return true;
    return false;
  }

  /** Unkeyed tasks go to the least-loaded live lane, or round robin. */
  private place(task: Task): void {
    const live = this.live;
    if (this.placement.strategy === 'round-robin') {
      const lane = live[this.roundRobin++ % live.length];
      lane.queued++;
      task.laneId = lane.id;
      return this.makeReady(lane, task);
    }
    let best = live[0];
    let least = best.queued + best.running;
    for (let i = 1; i < live.length; i++) {
      const load = live[i].queued + live[i].running;
      if (load < least) {
        best = live[i];
        least = load;
      }
    }
    best.queued++;
    task.laneId = best.id;
    this.makeReady(best, task);
  }

  private rehome(s: Session): void {
    s.homedAt = this.ringVersion;
    const to = this.lanes.get(this.ring.lookup(s.id))!;
    s.lane.queued -= s.size;
    to.queued += s.size;
    s.lane = to;
  }

  private makeReady(lane: Lane, item: Session | Task | Batch): void {
    // A session waits at its head task's priority: priority never reorders a session.
    lane.ready.push(
      item,
      item.kind === ReadyKind.Task
        ? item.policy.priority
        : item.kind === ReadyKind.Batch
          ? item.priority
          : item.head!.policy.priority,
    );
    if (this.started && lane.slots < lane.concurrency) {
      lane.slots++;
      void this.runSlot(lane);
    }
  }

  private wake(lane: Lane): void {
    while (lane.slots < lane.concurrency && lane.slots < lane.ready.length) {
      lane.slots++;
      void this.runSlot(lane);
    }
  }

  // One run loop: it lives while its lane has ready work, so a busy lane pays no
  // wake-up per task. Handlers start on a fresh microtask, never inside submit().
  private async runSlot(lane: Lane): Promise<void> {
    await undefined;
    const startedAt = now();
    lane.busy.started(startedAt);
    this.accepted.checkpoint(this.lastTaskId + 1, startedAt);
    // Known per loop, not per task, so the running tasks can be reached at a deadline.
    const loop: RunLoop = { task: undefined, batch: undefined };
    lane.loops.add(loop);
    let task: Task | Batch | undefined;
    while ((task = this.take(lane)) !== undefined) {
      if (task.kind === ReadyKind.Batch) {
        loop.batch = task;
        await this.runBatch(lane, task);
        loop.batch = undefined;
        continue;
      }
      loop.task = task;
      let ok = true;
      let value: unknown;
      try {
        const timeoutMs = task.policy.timeoutMs;
        const run = task.handler.fn(task.payload, task);
        value = await (timeoutMs === undefined ? run : this.timed(run, task, timeoutMs));
      } catch (error) {
        ok = false;
        value = error;
      }
      loop.task = undefined;
      this.finish(lane, task, ok, value);
    }
    lane.loops.delete(loop);
    lane.slots--;
    lane.busy.ended(now(), startedAt);
    if (lane.removed && lane.slots === 0 && lane.running === 0) this.retire(lane);
  }

  private timed(run: unknown, task: Task, ms: number): Promise<unknown> {
    return runTimed(run, task.taskId, ms, (error, zombie) => {
      task.zombie = zombie;
      task.abort(error);
    });
  }

  /** One call of a batch handler; then each task settles (or retries) on its own. */
  private async runBatch(lane: Lane, batch: Batch): Promise<void> {
    let ok = true;
    let value: unknown;
    try {
      const timeoutMs = batch.timeoutMs;
      const run = batch.call();
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

  // A removed lane's gathered task: an unkeyed one is placed again, a session takes its
  // task back at its head and moves.
  private giveBack(lane: Lane, task: Task): void {
    const s = task.session;
    if (s === undefined) {
      lane.queued--;
      return this.place(task);
    }
    s.unshift(task);
    this.release(s);
  }

  private finish(lane: Lane, task: Task, ok: boolean, value: unknown): void {
    if (task.state === TaskState.Abandoned) return this.hooks.abandonedSettled(task);
    lane.running--;
    this.running--;
    // A handler running on past its timeout is tracked per attempt, and before the caller
    // hears of the outcome, so that no drain sees the pool idle meanwhile.
    const zombie = task.zombie;
    task.zombie = undefined;
    const late: LateRun | undefined = zombie === undefined ? undefined : { task };
    if (late !== undefined) this.late.set(late, now());
    const delay = ok ? undefined : this.hooks.retryDelay(task, value);
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
    this.queued--;
    const s = task.session;
    if (s === undefined) {
      // Left in its ready queue (or a rate limiter) as a tombstone that is skipped. A task a
      // limiter held back may name a lane removed meanwhile, retiring or gone.
      const lane = this.lanes.get(task.laneId) ?? this.home(task.laneId);
      if (lane !== undefined) lane.queued--;
    } else {
      s.remove(task);
      s.lane.queued--;
      // A session left empty and idle is dropped now; a stale ready entry is skipped.
      if (s.size === 0 && !s.running) this.sessions.delete(s.id);
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

  /** Tasks gathered in batches that have not started. */
  get batched(): number {
    return this.gatherer.count(this.lanes.values());
  }

  // Work a rate limit held back goes back to its lane (or the ring's choice) when tokens return.
  private unpark(item: Limitable): void {
    if (item instanceof Task) {
      if (item.state !== TaskState.Queued) return;
      const lane = this.lanes.get(item.laneId);
      if (lane !== undefined) return this.makeReady(lane, item);
      // Its lane was removed while it waited: the count leaves with it.
      const old = this.home(item.laneId);
      if (old !== undefined) old.queued--;
      return this.place(item);
    }
    if (item.size === 0) return;
    if (item.lane.removed) this.rehome(item);
    this.makeReady(item.lane, item);
  }

  private home(laneId: number): Lane | undefined {
    for (const lane of this.retiring) if (lane.id === laneId) return lane;
    return undefined;
  }

  /** The first waiting unkeyed task of another lane (its entry there becomes a tombstone). */
  private steal(thief: Lane): Task | undefined {
    if (this.limits.pool !== undefined) return undefined; // stolen work would skip the pool's limit
    for (const victim of this.live) {
      if (victim === thief || victim.queued === 0) continue;
      const task = victim.ready.find(
        (item, i): item is Task =>
          i < STEAL_SCAN &&
          item instanceof Task &&
          item.state === TaskState.Queued &&
          item.handler.limiter === undefined,
      );
      if (task === undefined) continue;
      victim.queued--;
      thief.queued++;
      return task;
    }
    return undefined;
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

  /** The session's running task has settled: its next task may go, or its state is dropped. */
  private release(s: Session): void {
    s.running = false;
    // A removed lane's sessions move; with rebalance 'between-tasks', so does a session the
    // ring has since given to another lane (nothing of it runs now).
    if (
      s.lane.removed ||
      (s.homedAt !== this.ringVersion && this.placement.betweenTasks && s.size > 0)
    )
      this.rehome(s);
    if (s.size > 0) this.makeReady(s.lane, s);
    // Homed by an older ring (it kept its lane while active): idle now, it must follow the ring.
    else if (s.homedAt !== this.ringVersion) this.sessions.delete(s.id);
    else this.keepIdle(s);
  }

  /** An idle session stays for reuse; the oldest kept ones beyond the bound are dropped. */
  private keepIdle(s: Session): void {
    s.cached = true;
    this.idleKept++;
    if (!s.kept) {
      s.kept = true;
      this.idle.push(s);
    }
    while (this.idle.length > IDLE_SESSIONS_KEPT) this.evict(this.idle.shift()!);
  }

  private evict(s: Session): void {
    s.kept = false;
    if (!s.cached) return; // active again: it re-enters the cache when next idle
    s.cached = false;
    this.idleKept--;
    this.sessions.delete(s.id);
  }

  /** Empties the idle cache: the ring changed (kept sessions may be homed wrong) or the pool stops. */
  dropIdle(): void {
    let s: Session | undefined;
    while ((s = this.idle.shift()) !== undefined) this.evict(s);
  }

  private retire(lane: Lane): void {
    this.retiring.delete(lane);
    this.retiredBusyMs += lane.busy.busyMs(now());
    this.laneListener?.gone(lane.id);
    for (const resolve of lane.gone.splice(0)) resolve();
  }
}

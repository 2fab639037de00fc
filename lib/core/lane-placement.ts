import { runInPool } from './async-context.js';
import { Batch } from './batch.js';
import { BatchGatherer } from './batch-gatherer.js';
import { Deque } from './deque.js';
import { InvalidOptionError, UnknownLaneError } from './errors.js';
import { Lane } from './lane.js';
import { RingPlacement } from './placement/ring-placement.js';
import type { LaneLoads, SessionPlacement } from './placement/session-placement.js';
import { now } from './load-meter.js';
import { type Limitable, RateLimits } from './rate-limits.js';
import { ReadyKind } from './ready-queue.js';
import { Session } from './session.js';
import { Task, TaskState } from './task.js';

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

/** An unkeyed task another lane may take: waiting, and not held to a rate limit. */
function stealable(item: Session | Task | Batch): item is Task {
  return item.kind === ReadyKind.Task && item.handler.limiter === undefined;
}

/** A ready entry run loops would skip: a task withdrawn or stolen, a session or batch emptied. */
export function isDead(item: Session | Task | Batch): boolean {
  return item.kind === ReadyKind.Task ? item.state !== TaskState.Queued : item.size === 0;
}

export interface Placement {
  /** Unkeyed tasks: to the least-loaded lane, or round robin. */
  strategy: 'least-loaded' | 'round-robin';
  /** A lane that runs dry takes waiting unkeyed tasks from others. */
  steal: boolean;
  /** An active session follows a changed ring between two of its tasks (rebalance). */
  betweenTasks: boolean;
  /** Where sessions go when they become active. Default: the plain ring. */
  sessions?: SessionPlacement;
}

/**
 * Where work waits: lanes, sessions placed on them by `sessionPlacement` (the one owner of
 * that decision), unkeyed tasks placed on the least-loaded lane (or round robin), and how
 * all of it moves when lanes come and go. The Scheduler adds the run loops that take work
 * from the lanes' ready queues.
 *
 * Invariants:
 * - the placement is asked only when a session becomes active (opened, or a kept idle
 *   session waking) or must move: an active session (in `sessions`) keeps its lane until it
 *   is idle, whatever the placement would say meanwhile (unless `betweenTasks`); then its
 *   state is dropped, or kept in the idle cache: at most IDLE_SESSIONS_KEPT idle sessions
 *   stay in `sessions` (the cache is emptied whenever the lanes change; a load-aware policy
 *   places a kept session again when it wakes, the ring's answer cannot have changed);
 * - when a session's lane is removed, the session goes where the placement says: at once if
 *   it is waiting in the lane's ready queue, or when its running task settles otherwise, so
 *   its next task never starts before the previous one has settled;
 * - `queued` equals the sum over lanes, live and retiring.
 */
export abstract class LanePlacement {
  readonly lanes = new Map<number, Lane>();
  /** `lanes` as an array: placing an unkeyed task scans it without an iterator. */
  private readonly live: Lane[] = [];
  /** Active sessions, and the idle ones the cache keeps (`idleKept` of them). */
  readonly sessions = new Map<string, Session>();
  /** Idle sessions kept, oldest first; entries of sessions active again are skipped. */
  private readonly idle = new Deque<Session>();
  idleKept = 0;
  /** Removed lanes still finishing their running tasks. */
  readonly retiring = new Set<Lane>();
  queued = 0;
  /** Id of the newest accepted task, for `accepted` checkpoints. */
  lastTaskId = 0;
  readonly limits = new RateLimits((item) => this.unpark(item));
  protected readonly gatherer = new BatchGatherer({
    ready: (lane, batch) => this.makeReady(lane, batch),
    giveBack: (lane, task) => this.giveBack(lane, task),
  });
  /** Busy time of lanes that are gone. */
  retiredBusyMs = 0;
  /** Run loops start only once this is set. */
  protected started = false;
  /** The one owner of "which lane does a session go to" (see placement/session-placement.ts). */
  readonly sessionPlacement: SessionPlacement;
  /** The live lanes as the placement reads them. */
  private readonly loads: LaneLoads;
  /** Counts ring changes, so a session can tell whether its place may be stale. */
  private ringVersion = 0;
  laneListener: LaneListener | undefined;
  private roundRobin = 0;
  /** No lane id below it is free (each is live or retiring): adding N lanes is O(N), not O(N^2). */
  private lowestFree = 0;
  /**
   * Set by the first task with a non-zero priority. Until then every ready entry waits at
   * priority 0, and making a session ready does not read its head task, which has waited
   * long enough in a backlog to have left the CPU cache.
   */
  private prioritized = false;

  constructor(
    private readonly laneConcurrency: number,
    protected readonly placement: Placement,
  ) {
    this.sessionPlacement = placement.sessions ?? new RingPlacement();
    // `live` is only ever changed in place (push, splice), so it can be shared.
    const lanes = this.lanes;
    this.loads = { live: this.live, get: (id) => lanes.get(id) };
  }

  /** One run loop on `lane`, while it has ready work (see Scheduler). */
  protected abstract runSlot(lane: Lane): Promise<void>;

  /** The session's state, created (and placed) on first use. */
  session(id: string): Session {
    return this.sessions.get(id) ?? this.open(id);
  }

  /**
   * Where a session is: the lane holding its work while it is active, else the lane the
   * placement would give its next task now. A read: creates no state.
   */
  placeOf(id: string): { laneId: number; active: boolean; queued: number; running: boolean } {
    const s = this.sessions.get(id);
    if (s === undefined || s.cached) {
      return {
        // Where its next task would go now: the placement's answer (a kept idle session is
        // placed again when it wakes, or is homed where the ring says).
        laneId: this.sessionPlacement.place(id, this.loads),
        active: false,
        queued: 0,
        running: false,
      };
    }
    return { laneId: s.lane.id, active: true, queued: s.size, running: s.running };
  }

  /** Creates the state of a session known to have none. */
  open(id: string): Session {
    const s = new Session(id, this.lanes.get(this.sessionPlacement.place(id, this.loads))!);
    s.homedAt = this.ringVersion;
    this.sessions.set(id, s);
    return s;
  }

  enqueue(task: Task): void {
    this.queued++;
    this.lastTaskId = task.taskId;
    if (task.policy.priority !== 0) this.prioritized = true;
    const s = task.session;
    if (s === undefined) return this.place(task);
    if (s.cached) {
      s.cached = false;
      this.idleKept--;
      // Waking: a load-aware policy places it again (the ring's answer cannot have changed).
      if (this.sessionPlacement.loadAware)
        s.lane = this.lanes.get(this.sessionPlacement.place(s.id, this.loads))!;
    }
    s.push(task);
    s.lane.queued++;
    if (s.size === 1 && !s.running) this.makeReady(s.lane, s);
  }

  addLane(): Lane {
    let id = this.lowestFree;
    while (this.lanes.has(id) || this.isRetiring(id)) id++;
    this.lowestFree = id + 1;
    const lane = new Lane(id, this.laneConcurrency);
    this.lanes.set(id, lane);
    this.live.push(lane); // the Map's order: a new key goes last
    this.sessionPlacement.added(id);
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
    // Searched from the end: a shrink removes the newest lanes, which are last.
    this.live.splice(this.live.lastIndexOf(lane), 1);
    this.sessionPlacement.removed(id);
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

  private isRetiring(id: number): boolean {
    for (const lane of this.retiring) if (lane.id === id) return true;
    return false;
  }

  /** Unkeyed tasks go to the least-loaded live lane, or round robin. */
  protected place(task: Task): void {
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

  protected rehome(s: Session): void {
    s.homedAt = this.ringVersion;
    // Its own tasks leave the old lane first, so a load-aware policy does not count them twice.
    s.lane.queued -= s.size;
    const to = this.lanes.get(this.sessionPlacement.place(s.id, this.loads))!;
    to.queued += s.size;
    s.lane = to;
  }

  /** `front`: the item goes back where it was taken from (a rate limit held it back). */
  protected makeReady(lane: Lane, item: Session | Task | Batch, front = false): void {
    // A session waits at its head task's priority: priority never reorders a session.
    const priority = !this.prioritized
      ? 0
      : item.kind === ReadyKind.Task
        ? item.policy.priority
        : item.kind === ReadyKind.Batch
          ? item.priority
          : item.head!.policy.priority;
    if (front) lane.ready.unshift(item, priority);
    else lane.ready.push(item, priority);
    if (this.started && lane.slots < lane.concurrency) {
      lane.slots++;
      void runInPool(this, this.runSlot, lane);
    }
  }

  protected wake(lane: Lane): void {
    while (lane.slots < lane.concurrency && lane.slots < lane.ready.length) {
      lane.slots++;
      void runInPool(this, this.runSlot, lane);
    }
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

  /** Tasks gathered in batches that have not started. */
  get batched(): number {
    return this.gatherer.count(this.lanes.values());
  }

  // Work a rate limit held back goes back to the front of its lane (or to the ring's choice)
  // when tokens return, so work queued behind it meanwhile does not take its token.
  private unpark(item: Limitable): void {
    if (item instanceof Task) {
      if (item.state !== TaskState.Queued) return;
      const lane = this.lanes.get(item.laneId);
      if (lane !== undefined) return this.makeReady(lane, item, true);
      // Its lane was removed while it waited: the count leaves with it.
      const old = this.home(item.laneId);
      if (old !== undefined) old.queued--;
      return this.place(item);
    }
    if (item.size === 0) return;
    if (item.lane.removed) this.rehome(item);
    this.makeReady(item.lane, item, true);
  }

  protected home(laneId: number): Lane | undefined {
    for (const lane of this.retiring) if (lane.id === laneId) return lane;
    return undefined;
  }

  /**
   * The first waiting unkeyed task of another lane, taken out of its ready queue (with the
   * dead entries in front of it), so stolen entries never fill the scan window.
   */
  protected steal(thief: Lane): Task | undefined {
    if (this.limits.pool !== undefined) return undefined; // stolen work would skip the pool's limit
    for (const victim of this.live) {
      if (victim === thief || victim.queued === 0) continue;
      const task = victim.ready.take(stealable, isDead, STEAL_SCAN);
      if (task === undefined) continue;
      victim.queued--;
      thief.queued++;
      return task;
    }
    return undefined;
  }

  /** The session's running task has settled: its next task may go, or its state is dropped. */
  protected release(s: Session): void {
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

  protected retire(lane: Lane): void {
    this.retiring.delete(lane);
    if (lane.id < this.lowestFree) this.lowestFree = lane.id; // its id is free again
    this.retiredBusyMs += lane.busy.busyMs(now());
    this.laneListener?.gone(lane.id);
    for (const resolve of lane.gone.splice(0)) resolve();
  }
}

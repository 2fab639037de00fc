import { runInPool } from '../async-context.js';
import { Batch } from '../batch.js';
import { BatchGatherer } from '../batch-gatherer.js';
import type { UnkeyedPlacement } from '../placement/unkeyed-placement.js';
import { type Limitable, RateLimits } from '../rate-limits.js';
import { ReadyKind } from '../ready-queue.js';
import type { RunLoops } from '../run/run-loops.js';
import { Task, TaskState } from '../task.js';
import type { Lane } from './lane.js';
import type { LaneSet } from './lane-set.js';
import type { Session } from './session.js';
import type { SessionTable } from './session-table.js';

/**
 * Where accepted work waits until a run loop takes it: a session's tasks in its queue on
 * the lane SessionTable gives it, the session in that lane's ready queue while it has work
 * and nothing running; an unkeyed task in the ready queue of the lane UnkeyedPlacement
 * picks; work a rate limit holds back, parked in its limiter; tasks of batch handlers
 * gathering into batches. Making work ready starts a run loop on its lane if one is free.
 *
 * Invariant: `queued` equals the sum over lanes, live and retiring, of `lane.queued`.
 */
export class WaitingWork {
  queued = 0;
  /** Id of the newest accepted task, for `accepted` checkpoints. */
  lastTaskId = 0;
  readonly limits = new RateLimits((item) => this.unpark(item));
  readonly gatherer = new BatchGatherer({
    ready: (lane, batch) => this.makeReady(lane, batch),
    giveBack: (lane, task) => this.giveBack(lane, task),
  });
  /**
   * Set by the first task with a non-zero priority. Until then every ready entry waits at
   * priority 0, and making a session ready does not read its head task, which has waited
   * long enough in a backlog to have left the CPU cache.
   */
  private prioritized = false;
  /** The run loops that serve ready work (see `servedBy`). */
  private loops: RunLoops | undefined = undefined;

  constructor(
    private readonly lanes: LaneSet,
    private readonly sessions: SessionTable,
    private readonly unkeyed: UnkeyedPlacement,
  ) {}

  /**
   * The run loops that take the work made ready here. The engine's one cycle (ready work
   * starts a loop, a loop's settled task makes its session's next one ready), so it is tied
   * once, after both exist.
   */
  servedBy(loops: RunLoops): void {
    this.loops = loops;
  }

  enqueue(task: Task): void {
    this.queued++;
    this.lastTaskId = task.taskId;
    if (task.policy.priority !== 0) this.prioritized = true;
    const s = task.session;
    if (s === undefined) return this.place(task);
    if (s.cached) this.sessions.wake(s);
    s.push(task);
    s.lane.queued++;
    if (s.size === 1 && !s.running) this.makeReady(s.lane, s);
  }

  /** An unkeyed task goes to the lane UnkeyedPlacement picks. */
  place(task: Task): void {
    const lane = this.unkeyed.laneFor();
    lane.queued++;
    task.laneId = lane.id;
    this.makeReady(lane, task);
  }

  /** `front`: the item goes back where it was taken from (a rate limit held it back). */
  makeReady(lane: Lane, item: Session | Task | Batch, front = false): void {
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
    const loops = this.loops!;
    if (loops.started && lane.slots < lane.concurrency) {
      lane.slots++;
      void runInPool(loops, loops.runSlot, lane);
    }
  }

  /** The session's running task has settled: its next task may go, or its state is dropped. */
  release(s: Session): void {
    if (this.sessions.settled(s)) this.makeReady(s.lane, s);
  }

  /** A removed lane's waiting work moves: its batches not started, then its ready queue. */
  moveOff(lane: Lane): void {
    // Batches not started yet give their tasks back, which then move like the rest.
    this.gatherer.giveBack(lane);
    lane.ready.drain((item) => {
      if (item instanceof Batch) return;
      if (item instanceof Task) {
        if (item.state !== TaskState.Queued) return; // a tombstone: withdrawn or stolen
        lane.queued--;
        this.place(item);
      } else if (item.size > 0) {
        this.sessions.rehome(item);
        this.makeReady(item.lane, item);
      }
    });
  }

  /** Id of the longest-waiting task (the lowest queued id), or undefined if none waits. */
  oldestQueuedId(): number | undefined {
    let oldest = Infinity;
    for (const s of this.sessions.byId.values())
      if (s.head !== undefined && s.head.taskId < oldest) oldest = s.head.taskId;
    for (const lane of this.lanes.all()) {
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
    return this.gatherer.count(this.lanes.byId.values());
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

  // Work a rate limit held back goes back to the front of its lane (or to the placement's choice)
  // when tokens return, so work queued behind it meanwhile does not take its token.
  private unpark(item: Limitable): void {
    if (item instanceof Task) {
      if (item.state !== TaskState.Queued) return;
      const lane = this.lanes.byId.get(item.laneId);
      if (lane !== undefined) return this.makeReady(lane, item, true);
      // Its lane was removed while it waited: the count leaves with it.
      const old = this.lanes.home(item.laneId);
      if (old !== undefined) old.queued--;
      return this.place(item);
    }
    if (item.size === 0) return;
    if (item.lane.removed) this.sessions.rehome(item);
    this.makeReady(item.lane, item, true);
  }
}

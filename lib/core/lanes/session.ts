import type { Lane } from './lane.js';
import { ReadyKind } from '../ready-queue.js';
import type { Task } from '../task.js';

/**
 * The queue of one session: a FIFO of tasks linked through `task.next`.
 *
 * Invariant: a session is in its lane's ready queue exactly when it has queued tasks and
 * none running. That is what gives per-session order and mutual exclusion on a lane of any
 * concurrency. An idle session (nothing queued or running) is dropped, or kept for reuse in
 * the SessionTable's bounded idle cache (`cached`).
 */
export class Session {
  head: Task | undefined = undefined;
  tail: Task | undefined = undefined;
  size = 0;
  running = false;
  /** The lane set's version when the session was placed on `lane` (see SessionTable.laneSetVersion). */
  homedAt = 0;
  /** Idle, and held by the SessionTable's idle cache (counted in `idleKept`). */
  cached = false;
  /** Has an entry in the idle cache's FIFO (possibly stale: the session may be active again). */
  kept = false;

  constructor(
    readonly id: string,
    public lane: Lane,
  ) {}

  get kind(): ReadyKind.Session {
    return ReadyKind.Session;
  }

  push(task: Task): void {
    if (this.tail === undefined) this.head = task;
    else this.tail.next = task;
    this.tail = task;
    this.size++;
  }

  /** Puts a task back at the head (a retry keeps its place in the session's order). */
  unshift(task: Task): void {
    task.next = this.head;
    this.head = task;
    if (this.tail === undefined) this.tail = task;
    this.size++;
  }

  /** Unlinks a queued task (a caller cancelled it); O(position), cancellation is rare. */
  remove(task: Task): boolean {
    let prev: Task | undefined;
    for (let t = this.head; t !== undefined; prev = t, t = t.next) {
      if (t !== task) continue;
      if (prev === undefined) this.head = t.next;
      else prev.next = t.next;
      if (this.tail === t) this.tail = prev;
      t.next = undefined;
      this.size--;
      return true;
    }
    return false;
  }

  shift(): Task | undefined {
    const task = this.head;
    if (task === undefined) return undefined;
    this.head = task.next;
    if (this.head === undefined) this.tail = undefined;
    task.next = undefined;
    this.size--;
    return task;
  }

  get idle(): boolean {
    return !this.running && this.size === 0;
  }
}

import { Deque } from '../deque.js';
import type { SessionPlacement } from '../placement/session-placement.js';
import type { LaneSet } from './lane-set.js';
import { Session } from './session.js';

/**
 * Idle sessions kept for reuse, at most. A chatty session that goes idle between bursts is
 * then not rebuilt each time (a placement lookup, an allocation, a Map set and delete: about a
 * seventh of a keyed task's cost at 10 tasks per burst); the bound keeps a million distinct
 * sessions over time from costing more than this many small objects.
 */
export const IDLE_SESSIONS_KEPT = 1024;

/**
 * The sessions the pool knows and the lane each is on. The one place that asks `placement`
 * (the one owner of "which lane does a session go to", see placement/session-placement.ts).
 *
 * Invariants:
 * - the placement is asked only when a session becomes active (opened, or a kept idle
 *   session waking) or must move: an active session (in `byId`) keeps its lane until it
 *   is idle, whatever the placement would say meanwhile (unless `betweenTasks`); then its
 *   state is dropped, or kept in the idle cache: at most IDLE_SESSIONS_KEPT idle sessions
 *   stay in `byId` (the cache is emptied whenever the lanes change; a load-aware policy
 *   places a kept session again when it wakes, the placement's answer cannot have changed);
 * - when a session's lane is removed, the session goes where the placement says: at once if
 *   it is waiting in the lane's ready queue, or when its running task settles otherwise, so
 *   its next task never starts before the previous one has settled.
 */
export class SessionTable {
  /** Active sessions, and the idle ones the cache keeps (`idleKept` of them). */
  readonly byId = new Map<string, Session>();
  /** Idle sessions kept, oldest first; entries of sessions active again are skipped. */
  private readonly idle = new Deque<Session>();
  idleKept = 0;
  /** Counts lane changes (the placement's answers may change with them), so a session can tell whether its place may be stale. */
  private laneSetVersion = 0;

  constructor(
    readonly placement: SessionPlacement,
    private readonly lanes: LaneSet,
    /** An active session follows a changed placement between two of its tasks (rebalance). */
    private readonly betweenTasks: boolean,
  ) {}

  /** The session's state, created (and placed) on first use. */
  session(id: string): Session {
    return this.byId.get(id) ?? this.open(id);
  }

  /** Creates the state of a session known to have none. */
  open(id: string): Session {
    const lanes = this.lanes;
    const s = new Session(id, lanes.byId.get(this.placement.place(id, lanes.loads))!);
    s.homedAt = this.laneSetVersion;
    this.byId.set(id, s);
    return s;
  }

  /**
   * Where a session is: the lane holding its work while it is active, else the lane the
   * placement would give its next task now. A read: creates no state.
   */
  placeOf(id: string): { laneId: number; active: boolean; queued: number; running: boolean } {
    const s = this.byId.get(id);
    if (s === undefined || s.cached) {
      return {
        // Where its next task would go now: the placement's answer (a kept idle session is
        // placed again when it wakes, or is homed where the placement says).
        laneId: this.placement.place(id, this.lanes.loads),
        active: false,
        queued: 0,
        running: false,
      };
    }
    return { laneId: s.lane.id, active: true, queued: s.size, running: s.running };
  }

  /** A kept idle session gets a task: it leaves the cache (and a load-aware policy places it again). */
  wake(s: Session): void {
    s.cached = false;
    this.idleKept--;
    // The placement's answer cannot have changed: the cache is emptied whenever it does.
    if (this.placement.loadAware)
      s.lane = this.lanes.byId.get(this.placement.place(s.id, this.lanes.loads))!;
  }

  /** Places a session again (its lane was removed, or the placement moved it); its queued tasks follow. */
  rehome(s: Session): void {
    s.homedAt = this.laneSetVersion;
    // Its own tasks leave the old lane first, so a load-aware policy does not count them twice.
    s.lane.queued -= s.size;
    const to = this.lanes.byId.get(this.placement.place(s.id, this.lanes.loads))!;
    to.queued += s.size;
    s.lane = to;
  }

  /**
   * The session's running task has settled. True if it has tasks waiting (on `s.lane`, moved
   * first where it must); else its state is dropped or kept idle.
   */
  settled(s: Session): boolean {
    s.running = false;
    // A removed lane's sessions move; with rebalance 'between-tasks', so does a session the
    // placement has since given to another lane (nothing of it runs now).
    if (s.lane.removed || (s.homedAt !== this.laneSetVersion && this.betweenTasks && s.size > 0))
      this.rehome(s);
    if (s.size > 0) return true;
    // Homed before a lane change (it kept its lane while active): idle now, it must follow the placement.
    if (s.homedAt !== this.laneSetVersion) this.byId.delete(s.id);
    else this.keepIdle(s);
    return false;
  }

  /** Lanes joined: the placement changed. */
  added(laneIds: readonly number[]): void {
    this.placement.added(laneIds);
    this.laneSetVersion++;
    this.dropIdle();
  }

  /** A lane left: the placement changed. */
  removed(laneId: number): void {
    this.placement.removed(laneId);
    this.laneSetVersion++;
    this.dropIdle();
  }

  /** Empties the idle cache: the placement changed (kept sessions may be homed wrong) or the pool stops. */
  dropIdle(): void {
    let s: Session | undefined;
    while ((s = this.idle.shift()) !== undefined) this.evict(s);
  }

  /** Active sessions: those with work in the pool. */
  get active(): number {
    return this.byId.size - this.idleKept;
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
    this.byId.delete(s.id);
  }
}

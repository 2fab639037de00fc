import { Cutoff } from './drain/cutoff.js';
import { Admission } from './intake/admission.js';
import type { Lane } from './lanes/lane.js';
import { LaneLifecycle } from './lanes/lane-lifecycle.js';
import { LaneSet } from './lanes/lane-set.js';
import type { Session } from './lanes/session.js';
import { SessionTable } from './lanes/session-table.js';
import { WaitingWork } from './lanes/waiting-work.js';
import type { ResolvedPoolOptions } from './options.js';
import type { Outcomes } from './outcomes.js';
import { createPlacement } from './placement/create-placement.js';
import { UnkeyedPlacement } from './placement/unkeyed-placement.js';
import { RunLoops } from './run/run-loops.js';

export { IDLE_SESSIONS_KEPT } from './lanes/session-table.js';

/**
 * The engine below the Dispatcher, composed: each part owns one concept and is handed, when
 * built, the parts it needs. Follow a keyed task through them:
 *
 *   Intake.accept (intake/)  -> Admission: is there room?
 *   WaitingWork.enqueue      -> SessionTable: the session's lane (asks the SessionPlacement)
 *   RunLoops.runSlot (run/)  -> takes it from the lane's ready queue, runs it, settles it
 *                               through Outcomes, frees its room in Admission
 *   WaitingWork.release      -> SessionTable: the session's next task, or it goes idle
 *
 * Where a session goes: placement/ (SessionPlacement); where an unkeyed task goes and when it
 * may move: placement/unkeyed-placement.ts; lanes coming and going: LaneLifecycle; what a
 * drain does at its deadline: drain/cutoff.ts.
 */
export class Scheduler {
  readonly laneSet = new LaneSet();
  readonly sessionTable: SessionTable;
  readonly work: WaitingWork;
  readonly lifecycle: LaneLifecycle;
  readonly admission: Admission;
  readonly loops: RunLoops;
  readonly cutoff: Cutoff;
  /** The live lanes by id (the LaneSet's table). */
  readonly lanes: ReadonlyMap<number, Lane>;
  /** Active sessions and the idle ones kept (the SessionTable's). */
  readonly sessions: ReadonlyMap<string, Session>;

  constructor(options: ResolvedPoolOptions, outcomes: Outcomes) {
    const lanes = this.laneSet;
    const sessions = (this.sessionTable = new SessionTable(
      createPlacement(options.placement, options.balanceFactor),
      lanes,
      options.rebalance === 'between-tasks',
    ));
    const unkeyed = new UnkeyedPlacement(lanes, options.unkeyedPlacement);
    const work = (this.work = new WaitingWork(lanes, sessions, unkeyed));
    this.lifecycle = new LaneLifecycle(lanes, sessions, work, options.laneConcurrency);
    this.admission = new Admission(work, sessions, options.maxQueued, options.maxQueuedPerSession);
    this.loops = new RunLoops(
      lanes,
      this.lifecycle,
      sessions,
      work,
      options.stealUnkeyed ? unkeyed : undefined,
      this.admission,
      outcomes,
    );
    work.servedBy(this.loops);
    this.loops.instrument = options.instrument;
    this.cutoff = new Cutoff(lanes, this.lifecycle, sessions, work, this.loops);
    this.lanes = lanes.byId;
    this.sessions = sessions.byId;
  }

  /** Idle sessions kept for reuse (counted in `sessions`). */
  get idleKept(): number {
    return this.sessionTable.idleKept;
  }
}

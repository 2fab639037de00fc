import type { Batch } from '../batch.js';
import { type Lane, isDead } from '../lanes/lane.js';
import type { LaneSet } from '../lanes/lane-set.js';
import type { Session } from '../lanes/session.js';
import { ReadyKind } from '../ready-queue.js';
import type { Task } from '../task.js';

/** How far into another lane's ready queue a lane that ran dry looks for unkeyed work. */
const STEAL_SCAN = 64;

/** An unkeyed task another lane may take: waiting, and not held to a rate limit. */
function stealable(item: Session | Task | Batch): item is Task {
  return item.kind === ReadyKind.Task && item.handler.limiter === undefined;
}

/**
 * Where tasks without a session id go: to the least-loaded live lane, or round robin; and
 * (with `stealUnkeyed`) how one that waits may move to a lane that ran dry. They carry no
 * ordering promise, so unlike sessions they may leave the lane they were placed on.
 */
export class UnkeyedPlacement {
  private roundRobin = 0;

  constructor(
    private readonly lanes: LaneSet,
    private readonly strategy: 'least-loaded' | 'round-robin',
  ) {}

  /** The live lane for an unkeyed task now. */
  laneFor(): Lane {
    const live = this.lanes.live;
    if (this.strategy === 'round-robin') return live[this.roundRobin++ % live.length];
    let best = live[0];
    let least = best.queued + best.running;
    for (let i = 1; i < live.length; i++) {
      const load = live[i].queued + live[i].running;
      if (load < least) {
        best = live[i];
        least = load;
      }
    }
    return best;
  }

  /**
   * The first waiting unkeyed task of another lane, taken out of its ready queue (with the
   * dead entries in front of it), so stolen entries never fill the scan window.
   */
  steal(thief: Lane): Task | undefined {
    for (const victim of this.lanes.live) {
      if (victim === thief || victim.queued === 0) continue;
      const task = victim.ready.take(stealable, isDead, STEAL_SCAN);
      if (task === undefined) continue;
      victim.queued--;
      thief.queued++;
      return task;
    }
    return undefined;
  }
}

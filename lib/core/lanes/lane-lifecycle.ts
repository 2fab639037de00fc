import { InvalidOptionError, UnknownLaneError } from '../errors.js';
import { now } from '../load-meter.js';
import { Lane } from './lane.js';
import type { LaneSet } from './lane-set.js';
import type { SessionTable } from './session-table.js';
import type { WaitingWork } from './waiting-work.js';

/** Told of lanes as they come and go (thread lanes keep one thread per lane). */
export interface LaneListener {
  /** A lane joined the placement. */
  added(laneId: number): void;
  /** A lane left the placement; its running tasks still finish. */
  removed(laneId: number): void;
  /** A removed lane's last running task has settled. */
  gone(laneId: number): void;
}

/**
 * Lanes coming and going: a lane is added to the placement, removed from it (its waiting work
 * moves at once, its running tasks finish where they are) and, once its last running task
 * has settled, retired (gone). The listener hears of each step.
 *
 * Invariants: an id is live, retiring or free, and no id below `lowestFree` is free, so
 * adding N lanes is O(N), not O(N^2); a retired lane's busy time stays in the pool's total.
 */
export class LaneLifecycle {
  listener: LaneListener | undefined = undefined;
  /** Busy time of lanes that are gone. */
  retiredBusyMs = 0;
  private lowestFree = 0;

  constructor(
    private readonly lanes: LaneSet,
    private readonly sessions: SessionTable,
    private readonly work: WaitingWork,
    private readonly laneConcurrency: number,
  ) {}

  /**
   * `count` new live lanes with the lowest free ids, in ascending order. The placement hears
   * of them at once (it builds its table for all of them in one go), then the listener of each.
   */
  add(count: number): Lane[] {
    const { byId, live } = this.lanes;
    const added: Lane[] = [];
    const ids: number[] = [];
    let id = this.lowestFree;
    for (let i = 0; i < count; i++, id++) {
      while (byId.has(id) || this.lanes.home(id) !== undefined) id++;
      const lane = new Lane(id, this.laneConcurrency);
      byId.set(id, lane);
      live.push(lane); // the Map's order: a new key goes last
      added.push(lane);
      ids.push(id);
    }
    this.lowestFree = id;
    this.sessions.added(ids);
    if (this.listener !== undefined) for (const lane of added) this.listener.added(lane.id);
    return added;
  }

  /** Takes the lane out of the placement and moves its waiting work; resolves once it is gone. */
  remove(id: number): Promise<void> {
    const { byId, live } = this.lanes;
    const lane = byId.get(id);
    if (lane === undefined) throw new UnknownLaneError(id, [...byId.keys()]);
    if (byId.size === 1) {
      throw new InvalidOptionError(
        'laneId',
        id,
        'a lane other than the last one: a pool keeps at least one lane',
      );
    }
    byId.delete(id);
    // Searched from the end: a shrink removes the newest lanes, which are last.
    live.splice(live.lastIndexOf(lane), 1);
    this.sessions.removed(id);
    this.listener?.removed(id);
    lane.removed = true;
    this.work.moveOff(lane);
    if (lane.running === 0 && lane.slots === 0) {
      this.retire(lane); // its busy time stays in the total
      return Promise.resolve();
    }
    this.lanes.retiring.add(lane);
    return new Promise((resolve) => lane.gone.push(resolve));
  }

  /** A removed lane runs nothing more: it is gone, its id free, its removal awaited no longer. */
  retire(lane: Lane): void {
    this.lanes.retiring.delete(lane);
    if (lane.id < this.lowestFree) this.lowestFree = lane.id; // its id is free again
    this.retiredBusyMs += lane.busy.busyMs(now());
    this.listener?.gone(lane.id);
    for (const resolve of lane.gone.splice(0)) resolve();
  }
}

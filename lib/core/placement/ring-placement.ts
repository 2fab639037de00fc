import { SlotTable } from './slot-table.js';
import type { LaneLoads, SessionPlacement } from './session-placement.js';

/**
 * Plain consistent hashing: a session goes to its hash home (the owner of its slot in the
 * slot table), whatever the loads. Adding or removing one lane of N moves about 1/N of the
 * ids and none between other lanes.
 */
export class RingPlacement implements SessionPlacement {
  readonly loadAware: boolean = false;
  protected readonly table = new SlotTable();

  place(sessionId: string, _loads: LaneLoads): number {
    return this.table.lookup(sessionId);
  }

  home(sessionId: string): number {
    return this.table.lookup(sessionId);
  }

  added(laneIds: readonly number[]): void {
    this.table.addAll(laneIds);
  }

  removed(laneId: number): void {
    this.table.remove(laneId);
  }
}

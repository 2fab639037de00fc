import { HashRing } from '../hash-ring.js';
import type { LaneLoads, SessionPlacement } from './session-placement.js';

/**
 * Plain consistent hashing: a session goes to its ring owner, whatever the loads. Adding or
 * removing one lane of N moves about 1/N of the ids and none between other lanes.
 */
export class RingPlacement implements SessionPlacement {
  readonly loadAware: boolean = false;
  protected readonly ring: HashRing;

  constructor(virtualNodes: number) {
    this.ring = new HashRing(virtualNodes);
  }

  place(sessionId: string, _loads: LaneLoads): number {
    return this.ring.lookup(sessionId);
  }

  home(sessionId: string): number {
    return this.ring.lookup(sessionId);
  }

  added(laneId: number): void {
    this.ring.add(laneId);
  }

  removed(laneId: number): void {
    this.ring.remove(laneId);
  }
}

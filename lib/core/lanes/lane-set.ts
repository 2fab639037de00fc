import type { LaneLoads } from '../placement/session-placement.js';
import type { Lane } from './lane.js';

/**
 * The lanes there are: live ones (`byId`, and `live` in the same order) and removed ones
 * still finishing their running tasks (`retiring`). Every part reads this table; only
 * LaneLifecycle changes it.
 */
export class LaneSet {
  readonly byId = new Map<number, Lane>();
  /** `byId` as an array: placing an unkeyed task scans it without an iterator. */
  readonly live: Lane[] = [];
  /** Removed lanes still finishing their running tasks. */
  readonly retiring = new Set<Lane>();
  /** The live lanes as a session placement reads them. */
  readonly loads: LaneLoads;

  constructor() {
    // `live` is only ever changed in place (push, splice), so it can be shared.
    const byId = this.byId;
    this.loads = { live: this.live, get: (id) => byId.get(id) };
  }

  /** The retiring lane of that id, if any (work held back may name a removed lane). */
  home(laneId: number): Lane | undefined {
    for (const lane of this.retiring) if (lane.id === laneId) return lane;
    return undefined;
  }

  /** Live and retiring lanes. */
  all(): Lane[] {
    return [...this.byId.values(), ...this.retiring];
  }
}

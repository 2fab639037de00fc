import type { LaneLoads } from './session-placement.js';
import { RingPlacement } from './ring-placement.js';

/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam 2018; HAProxy's
 * hash-balance-factor): a session goes to the first lane in its hash preference order (the
 * slot table's `walk`: every lane once, its home first) whose load, with this session
 * counted, stays within ceil((1 + e) * mean). Such a lane always exists (not every lane can
 * be above the mean), so the walk finds it. With light load it is the hash home, so most
 * sessions keep their home.
 */
export class BoundedPlacement extends RingPlacement {
  override readonly loadAware = true;

  constructor(private readonly balanceFactor: number) {
    super();
  }

  override place(sessionId: string, loads: LaneLoads): number {
    const live = loads.live;
    let total = 1; // the session being placed
    for (let i = 0; i < live.length; i++) total += live[i].load;
    const cap = Math.ceil(((1 + this.balanceFactor) * total) / live.length);
    const lane = this.table.walk(sessionId, (id) => {
      const l = loads.get(id);
      return l !== undefined && l.load + 1 <= cap;
    });
    return lane === -1 ? this.table.lookup(sessionId) : lane;
  }
}

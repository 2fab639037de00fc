import type { LaneLoads } from './session-placement.js';
import { RingPlacement } from './ring-placement.js';

/**
 * A session becoming active goes to the live lane with the fewest outstanding tasks; its
 * hash home wins ties, so an idle pool still places by hash (stable homes at low load).
 */
export class LeastLoadedPlacement extends RingPlacement {
  override readonly loadAware = true;

  override place(sessionId: string, loads: LaneLoads): number {
    const home = this.table.lookup(sessionId);
    let best = home;
    let least = loads.get(home)?.load ?? Infinity;
    const live = loads.live;
    for (let i = 0; i < live.length; i++) {
      if (live[i].load < least) {
        best = live[i].id;
        least = live[i].load;
      }
    }
    return best;
  }
}

import { BoundedPlacement } from './bounded-placement.js';
import { LeastLoadedPlacement } from './least-loaded-placement.js';
import { RingPlacement } from './ring-placement.js';
import type { PlacementKind, SessionPlacement } from './session-placement.js';

/** The policy the `placement` option names (options are validated before this). */
export function createPlacement(
  kind: PlacementKind,
  virtualNodes: number,
  balanceFactor: number,
): SessionPlacement {
  switch (kind) {
    case 'bounded':
      return new BoundedPlacement(virtualNodes, balanceFactor);
    case 'least-loaded':
      return new LeastLoadedPlacement(virtualNodes);
    default:
      return new RingPlacement(virtualNodes);
  }
}

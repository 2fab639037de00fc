import { BoundedPlacement } from './bounded-placement.js';
import { LeastLoadedPlacement } from './least-loaded-placement.js';
import { RingPlacement } from './ring-placement.js';
import type { PlacementKind, SessionPlacement } from './session-placement.js';

/** The policy the `placement` option names (options are validated before this). */
export function createPlacement(kind: PlacementKind, balanceFactor: number): SessionPlacement {
  switch (kind) {
    case 'bounded':
      return new BoundedPlacement(balanceFactor);
    case 'least-loaded':
      return new LeastLoadedPlacement();
    default:
      return new RingPlacement();
  }
}

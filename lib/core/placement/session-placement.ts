/**
 * The one seam for where a session runs. The engine asks it when a session becomes active
 * (`place`) and tells it when lanes come and go; everything else about a session's lane
 * (stickiness while it has work, moving off a removed lane) is the engine's contract and
 * holds whatever the policy. Modelled on piscina's task queue strategy: small, replaceable.
 *
 * Invariant: `place` and `home` are pure for given members and loads (no side effects), so
 * asking "where would it go" (laneOf) never changes where anything goes. "Members" includes
 * the order lanes came and went in: the hash policies' slot table (slot-table.ts) moves the
 * fewest ids on each change, so its answer depends on that history, the same for every
 * process that replays it; one table per pool answers for all its lanes, thread lanes too.
 */
export interface SessionPlacement {
  /** Policies whose answer depends on loads: a kept idle session is placed again when it wakes. */
  readonly loadAware: boolean;
  /** The lane for a session becoming active now, one of `loads.live`. */
  place(sessionId: string, loads: LaneLoads): number;
  /** The session's hash home (its first choice), ignoring load. -1 with no lanes. */
  home(sessionId: string): number;
  /** Lanes joined, in this order (a resize or a new pool tells of all its lanes at once). */
  added(laneIds: readonly number[]): void;
  removed(laneId: number): void;
}

/** A live lane as placement sees it. */
export interface LaneLoad {
  readonly id: number;
  /** Outstanding tasks: queued and running (see docs/placement.md for why not sessions). */
  readonly load: number;
}

/** The live lanes and their loads, read at the moment of placement. */
export interface LaneLoads {
  readonly live: readonly LaneLoad[];
  /** The live lane of that id, or undefined. */
  get(laneId: number): LaneLoad | undefined;
}

export type PlacementKind = 'ring' | 'bounded' | 'least-loaded';

export const PLACEMENT_KINDS: readonly PlacementKind[] = ['ring', 'bounded', 'least-loaded'];

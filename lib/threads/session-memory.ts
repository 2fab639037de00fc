import { HashRing } from '../core/hash-ring.js';

/** Sessions a thread remembers at most; past it the oldest is forgotten (it then "arrives" again). */
export const SESSION_MEMORY = 100_000;

/**
 * Which sessions a lane's thread holds current state for, so a task can be told that its
 * session has just arrived (`ctx.arrived`): first seen by this thread, or back after the
 * ring moved it away. It may say "arrived" when nothing moved (a forgotten or sticky
 * session), never the reverse: rebuilding state is always safe, trusting stale state is not.
 */
export class SessionMemory {
  private readonly seen = new Set<string>();

  constructor(
    private readonly laneId: number,
    private readonly virtualNodes: number,
    private readonly cap = SESSION_MEMORY,
  ) {}

  /** True if this thread has no current state for the session; from now on it has. */
  arrive(sessionId: string): boolean {
    if (this.seen.has(sessionId)) return false;
    if (this.seen.size >= this.cap) this.seen.delete(this.seen.values().next().value!);
    this.seen.add(sessionId);
    return true;
  }

  /** The ring changed: forget the sessions it now places on other lanes. */
  ringChanged(lanes: readonly number[]): void {
    const ring = new HashRing(this.virtualNodes);
    for (const id of lanes) ring.add(id);
    for (const id of this.seen) if (ring.lookup(id) !== this.laneId) this.seen.delete(id);
  }
}

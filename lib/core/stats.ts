export type PoolState = 'created' | 'running' | 'draining' | 'stopped';

export interface LaneStats {
  id: number;
  queued: number;
  running: number;
  concurrency: number;
  /** Removed from the ring, finishing its running tasks. */
  retiring: boolean;
}

/** A snapshot of the pool; counters count since the pool was created. */
export interface PoolStats {
  state: PoolState;
  lanes: LaneStats[];
  queued: number;
  running: number;
  /** Sessions with work queued or running. Idle sessions hold no state. */
  activeSessions: number;
  /** Callers waiting for queue room (whenFull: 'wait'). */
  waiting: number;
  accepted: number;
  completed: number;
  failed: number;
  cancelled: number;
  rejected: number;
}

import type { TypeCounts } from './handler-registry.js';
import type { LatencyStats } from './latency.js';

/** 'starting': running, with lanes still being added in steps (see stagedStart). */
export type PoolState = 'created' | 'starting' | 'running' | 'draining' | 'stopped';

export interface AutoscaleReport {
  paused: boolean;
  min: number;
  max: number;
  /** Newest last, each with the reason, the inputs it used and whether it was applied. */
  decisions: Array<{
    at: number;
    direction: 'up' | 'down' | 'hold';
    desired: number;
    applied: boolean;
    reason: string;
    inputs: Record<string, number>;
  }>;
}

export interface LaneStats {
  id: number;
  queued: number;
  running: number;
  concurrency: number;
  /** Removed from the placement, finishing its running tasks. */
  retiring: boolean;
  /** Time this lane's run loops have been busy since it was added (ms). */
  busyMs: number;
  /** Busy time / (age x concurrency) since the lane was added, 0..1. */
  utilization: number;
}

/** One lane's worker thread (thread mode only). */
export interface ThreadStats {
  laneId: number;
  /** `worker_threads` id of the lane's current thread. */
  threadId: number;
  /** The lane's busy time / (age x concurrency), 0..1 (as in `lanes`). */
  utilization: number;
  /** V8 heap in use and its limit (bytes), as the thread last reported them. */
  heapUsed: number;
  heapLimit: number;
  /** Tasks sent to the thread and not yet settled. */
  inFlight: number;
  /** Threads this lane has replaced (timeouts and crashes). */
  replaced: number;
}

/** A snapshot of the pool; counters count since the pool was created. */
export interface PoolStats {
  state: PoolState;
  lanes: LaneStats[];
  queued: number;
  running: number;
  /** Sessions with work queued or running. Idle sessions hold no state. */
  activeSessions: number;
  /**
   * Age of the longest-waiting task (ms), 0 when none waits. A lower bound, exact to within
   * the time between two `stats()` calls or two bursts of work.
   */
  oldestWaitMs: number;
  /** Busy time of all lanes, past and present, since the pool was created (ms). */
  busyMs: number;
  /** Tasks abandoned by a forced drain, and late settlements of theirs that were ignored. */
  abandoned: number;
  lateSettlements: number;
  /** Tasks whose last attempt timed out (not counted in `failed`). */
  timedOut: number;
  /** Failed attempts that were retried, and tasks that failed after all their attempts. */
  retried: number;
  deadLettered: number;
  /** Queued work held back by a rate limit right now (sessions and unkeyed tasks). */
  rateLimited: number;
  /** Tasks waiting out a retry backoff (each holds its session). */
  retrying: number;
  /** Queued tasks gathered in batches that have not started (each holds its session). */
  batching: number;
  /** Calls of batch handlers; their tasks count one by one in the other counters. */
  batches: number;
  /** Wait and run times (ms) of sampled tasks (see `latencySampleEvery`), since the start. */
  latency: LatencyStats;
  /**
   * The same over the last 30 to 60 s (two rotating windows of 30 s): latency now, for a live
   * view or an alert, where `latency` averages the pool's whole life.
   */
  recentLatency: LatencyStats;
  /** Tasks finished (completed, failed or timed out) per second over recent windows. */
  throughput: { last1s: number; last10s: number; last60s: number };
  /** The same outcome counters per task type, with the type's latency once it has any. */
  types: Record<string, TypeCounts & { latency?: LatencyStats }>;
  /** Handlers still running past their timeout, and those running over twice their timeout. */
  lateTasks: number;
  overdueTasks: number;
  /** Per-thread figures of a pool in thread mode. */
  threads?: ThreadStats[];
  /** What an attached autoscaler reports: its bounds and latest decisions. */
  autoscale?: AutoscaleReport;
  /**
   * Calls refused with SelfWaitError: a handler's submit to its own session, or removal of its
   * own lane (counted in `rejected` too when it was a submit). See `checkSelfWait`.
   */
  selfWaits: number;
  /** Callers waiting for queue room (whenFull: 'wait'). */
  waiting: number;
  accepted: number;
  completed: number;
  failed: number;
  cancelled: number;
  rejected: number;
}

import type { PoolStats } from '../core/index.js';

/**
 * The health rules of a pool, as a pure function of one stats() snapshot: shared by the
 * Terminus indicator and the dashboard, so both say the same thing for the same reason.
 */

export interface PoolHealthThresholds {
  /** Degraded when more tasks than this wait per live lane. Default: 100. */
  maxQueuedPerLane?: number;
  /** Degraded when the oldest waiting task is older than this. Default: 5_000 ms. */
  maxOldestWaitMs?: number;
}

export interface PoolHealth {
  status: 'up' | 'degraded' | 'down';
  /** Why it is not up; absent when up. */
  reason?: string;
  data: {
    state: PoolStats['state'];
    lanes: number;
    queued: number;
    running: number;
    activeSessions: number;
    oldestWaitMs: number;
    lateTasks: number;
  };
}

export function poolHealth(s: PoolStats, thresholds: PoolHealthThresholds = {}): PoolHealth {
  const { maxQueuedPerLane = 100, maxOldestWaitMs = 5_000 } = thresholds;
  const lanes = s.lanes.filter((l) => !l.retiring).length;
  const data = {
    state: s.state,
    lanes,
    queued: s.queued,
    running: s.running,
    activeSessions: s.activeSessions,
    oldestWaitMs: Math.round(s.oldestWaitMs),
    lateTasks: s.lateTasks,
  };
  const accepting = s.state === 'created' || s.state === 'starting' || s.state === 'running';
  if (!accepting)
    return { status: 'down', reason: `the pool is ${s.state} and accepts no work`, data };
  if (s.overdueTasks > 0) {
    return {
      status: 'down',
      reason: `${s.overdueTasks} handler(s) still running at over twice their timeout: a lane is stuck`,
      data,
    };
  }
  if (s.state === 'starting') {
    return { status: 'degraded', reason: 'starting: lanes are still being added in steps', data };
  }
  if (s.queued / Math.max(1, lanes) > maxQueuedPerLane) {
    return {
      status: 'degraded',
      reason: `backlog above ${maxQueuedPerLane} queued per lane`,
      data,
    };
  }
  if (s.oldestWaitMs > maxOldestWaitMs) {
    return {
      status: 'degraded',
      reason: `oldest waiting task older than ${maxOldestWaitMs} ms`,
      data,
    };
  }
  return { status: 'up', data };
}

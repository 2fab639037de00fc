import type { Autoscaler } from '../autoscaler/autoscaler.js';
import type { Dispatcher, PoolStats } from '../core/index.js';
import { type PoolHealth, poolHealth } from '../health/pool-health.js';

/** What the dashboard needs of a pool (a WorkerPoolRef is one). */
export interface PoolView {
  readonly name: string;
  readonly dispatcher: Dispatcher;
  readonly autoscaler: Autoscaler | null;
}

/** One pool as the page shows it: one stats() read, and the health rules applied to it. */
export interface PoolSnapshot {
  name: string;
  stats: PoolStats;
  health: Pick<PoolHealth, 'status' | 'reason'>;
  /** The pool has an autoscaler (stats.autoscale says its state). */
  autoscaler: boolean;
}

export function snapshotOf(pool: PoolView): PoolSnapshot {
  const stats = pool.dispatcher.stats();
  const { status, reason } = poolHealth(stats);
  return {
    name: pool.name,
    stats,
    health: { status, reason },
    autoscaler: pool.autoscaler !== null,
  };
}

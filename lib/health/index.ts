export {
  type WorkerPoolClusterHealthOptions,
  type WorkerPoolHealthOptions,
  WorkerPoolHealthIndicator,
} from './worker-pool.health.js';
export { type PoolHealth, type PoolHealthThresholds, poolHealth } from './pool-health.js';

export { type PoolMetricsOptions, registerPoolMetrics } from './pool-metrics.js';

export { type PoolMetricsOptions, registerPoolMetrics } from './pool-metrics.js';
export { type ClusterMetricsSource, registerClusterMetrics } from './cluster-metrics.js';

export { Cluster, type ClusterEnqueueOptions, type ClusterSubmitOptions } from './cluster.js';
export type { ClusterStats, ClusterWideStats } from './cluster.stats.js';
export type {
  ClusterBatchHandlerFn,
  ClusterBatchItem,
  ClusterTaskContext,
} from './cluster.delivery.js';
export * from './cluster.errors.js';
export type {
  ClusterOnFailure,
  ClusterOptions,
  ClusterRetryOptions,
  PgBossInstance,
} from './cluster.options.js';

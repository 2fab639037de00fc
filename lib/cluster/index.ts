export { Cluster, type ClusterEnqueueOptions, type ClusterStats } from './cluster.js';
export type { ClusterTaskContext } from './cluster.delivery.js';
export * from './cluster.errors.js';
export type { ClusterOnFailure, ClusterOptions, ClusterRetryOptions } from './cluster.options.js';

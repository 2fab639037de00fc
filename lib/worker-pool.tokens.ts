import { Autoscaler } from './autoscaler/autoscaler.js';
import { Cluster } from './cluster/cluster.js';
import { Dispatcher } from './core/index.js';
import { ThreadLanes } from './threads/thread-lanes.js';
import { DEFAULT_POOL_NAME } from './worker-pool.constants.js';

/** Injection token of a pool's dispatcher: the `Dispatcher` class itself for the default pool. */
export function getDispatcherToken(name: string = DEFAULT_POOL_NAME): string | typeof Dispatcher {
  return name === DEFAULT_POOL_NAME ? Dispatcher : `nest-worker-pool:dispatcher:${name}`;
}

/** Injection token of a pool's resolved module options. */
export function getWorkerPoolOptionsToken(name: string = DEFAULT_POOL_NAME): string {
  return `nest-worker-pool:options:${name}`;
}

/** Injection token of a pool's autoscaler (null when the pool has no `autoscale` option). */
export function getAutoscalerToken(name: string = DEFAULT_POOL_NAME): string | typeof Autoscaler {
  return name === DEFAULT_POOL_NAME ? Autoscaler : `nest-worker-pool:autoscaler:${name}`;
}

/** Injection token of a pool's thread lanes (null when the pool has no `threads` option). */
export function getThreadLanesToken(name: string = DEFAULT_POOL_NAME): string | typeof ThreadLanes {
  return name === DEFAULT_POOL_NAME ? ThreadLanes : `nest-worker-pool:threads:${name}`;
}

/** Injection token of a pool's cluster mode (null when the pool has no `cluster` option). */
export function getClusterToken(name: string = DEFAULT_POOL_NAME): string | typeof Cluster {
  return name === DEFAULT_POOL_NAME ? Cluster : `nest-worker-pool:cluster:${name}`;
}

/** Internal: a pool's WorkerPoolRef, exported by the pool's own (global) module for `forFeature`. */
export function getPoolRefToken(name: string): string {
  return `nest-worker-pool:pool:${name}`;
}

export const DEFAULT_POOL_NAME = 'default';
export const TASK_HANDLER_METADATA = 'nest-worker-pool:task-handler';
/** Module-local token: the pool this module instance owns. */
export const WORKER_POOL_INSTANCE = Symbol('nest-worker-pool:instance');

export type { AutoscaleOptions } from './autoscaler/autoscale-options.interface.js';
export {
  type AutoscaleDecision,
  type AutoscaleInput,
  type AutoscalePolicy,
  DEFAULT_AUTOSCALE_POLICY_OPTIONS,
  type DefaultAutoscalePolicyOptions,
  type PoolSample,
  defaultAutoscalePolicy,
} from './autoscaler/autoscale-policy.js';
export { type AutoscaleRecord, Autoscaler } from './autoscaler/autoscaler.js';
export * from './core/index.js';
export * from './cluster/index.js';
export { InjectCluster } from './decorators/inject-cluster.decorator.js';
export { InjectAutoscaler } from './decorators/inject-autoscaler.decorator.js';
export { InjectDispatcher } from './decorators/inject-dispatcher.decorator.js';
export { TaskHandler } from './decorators/task-handler.decorator.js';
export type { TaskHandlerOptions } from './interfaces/task-handler-options.interface.js';
export type {
  WorkerPoolModuleAsyncOptions,
  WorkerPoolModuleOptions,
  WorkerPoolOptions,
  WorkerPoolOptionsFactory,
  WorkerPoolOptionsFactoryFn,
} from './interfaces/worker-pool-options.interface.js';
export {
  AbortReasonNotCloneableError,
  PayloadNotCloneableError,
  SESSION_MEMORY,
  ThreadLanes,
  type ThreadLanesOptions,
  ThreadStartError,
  type ThreadTaskContext,
  WorkerThreadExitedError,
  transfer,
} from './threads/index.js';
export { DEFAULT_POOL_NAME } from './worker-pool.constants.js';
export {
  AutoscaleSetupError,
  DashboardSetupError,
  HealthSetupError,
  RequestScopedHandlerError,
  UnknownPoolError,
} from './worker-pool.errors.js';
export { WorkerPoolModule } from './worker-pool.module.js';
export {
  getAutoscalerToken,
  getClusterToken,
  getDispatcherToken,
  getThreadLanesToken,
  getWorkerPoolOptionsToken,
} from './worker-pool.tokens.js';

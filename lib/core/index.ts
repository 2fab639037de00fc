export { Dispatcher, type SessionInfo } from './dispatcher.js';
export type {
  BatchTask,
  DrainOptions,
  HandlerRegistration,
  SubmitOptions,
} from './submit-options.js';
export { TaskGroup } from './task-group.js';
export type { ContextMode } from './async-context.js';
export type { AttemptEnd, AttemptOutcome, TaskInstrument } from './instrument.js';
export type { BatchContext, BatchHandlerFn, BatchItem, BatchOptions } from './batch.js';
export type { RateLimit } from './rate-limiter.js';
export { type RetryOptions, type TaskPolicyOptions, backoffDelay } from './task-policy.js';
export type { DrainReport } from './drain-report.js';
export type { PoolEvent, PoolEventType } from './events.js';
export type { TypeCounts } from './handler-registry.js';
export * from './errors.js';
export { MAX_TIMER_MS, type PoolOptions, type WhenFull } from './options.js';
export type { AutoscaleReport, LaneStats, PoolState, PoolStats, ThreadStats } from './stats.js';
export type { TaskContext, TaskHandlerFn, TaskOutcome } from './task.js';

export { Dispatcher, type SubmitOptions } from './dispatcher.js';
export type { DrainReport } from './drain-report.js';
export * from './errors.js';
export { HashRing } from './hash-ring.js';
export type { PoolOptions, WhenFull } from './options.js';
export type { LaneStats, PoolState, PoolStats } from './stats.js';
export type { TaskContext, TaskHandlerFn, TaskOutcome } from './task.js';

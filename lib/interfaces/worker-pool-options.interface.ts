import type { FactoryProvider, ModuleMetadata, Type } from '@nestjs/common';
import type { AutoscaleOptions } from '../autoscaler/autoscale-options.interface.js';
import type { PoolOptions } from '../core/index.js';
import type { ThreadLanesOptions } from '../threads/thread-options.js';

export interface WorkerPoolModuleOptions extends PoolOptions {
  /**
   * Name of the pool, for apps that run several. Inject a named pool with
   * `@InjectDispatcher(name)` and bind handlers with `@TaskHandler(type, { pool: name })`.
   * Default: 'default' (injectable as `Dispatcher`).
   */
  name?: string;
  /** Make the dispatcher injectable everywhere without importing the module. Default: false. */
  isGlobal?: boolean;
  /**
   * How long shutdown lets queued and running tasks finish. At the deadline, tasks still
   * queued are cancelled (their callers get `TaskCancelledError`) and running ones are awaited.
   * Default: 10_000 ms.
   */
  drainTimeoutMs?: number;
  /**
   * After `drainTimeoutMs`, how long handlers still running get to stop (their ctx.signal is
   * aborted) before shutdown abandons them: their callers get `TaskAbandonedError`, each is
   * logged with its task id, type and session, and shutdown goes on. Default: 5_000 ms.
   */
  drainGraceMs?: number;
  /**
   * Grow and shrink the pool with its load, checked by a cron job. Needs `@nestjs/schedule`
   * installed and `ScheduleModule.forRoot()` imported by the app. Default: off.
   */
  autoscale?: AutoscaleOptions;
  /**
   * Thread mode: each lane is a worker thread that boots `threads.module` (a Nest module
   * with the `@TaskHandler` providers) and runs its handlers. Queues and ordering stay in
   * the main thread. `laneConcurrency` then counts tasks in flight to a thread (default 16
   * in thread mode). Default: off (handlers run on the main thread).
   */
  threads?: ThreadLanesOptions;
}

/** Options that may come from config: everything but what decides the module's shape. */
export type WorkerPoolOptions = Omit<WorkerPoolModuleOptions, 'name' | 'isGlobal'>;

export interface WorkerPoolOptionsFactory {
  createWorkerPoolOptions(): Promise<WorkerPoolOptions> | WorkerPoolOptions;
}

export interface WorkerPoolModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  name?: string;
  isGlobal?: boolean;
  useFactory?: (...args: any[]) => Promise<WorkerPoolOptions> | WorkerPoolOptions;
  inject?: FactoryProvider['inject'];
  useClass?: Type<WorkerPoolOptionsFactory>;
  useExisting?: Type<WorkerPoolOptionsFactory>;
}

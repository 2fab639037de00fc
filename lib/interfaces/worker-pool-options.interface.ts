import type { FactoryProvider, ModuleMetadata, Type } from '@nestjs/common';
import type { AutoscaleOptions } from '../autoscaler/autoscale-options.interface.js';
import type { ClusterOptions } from '../cluster/cluster.options.js';
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
   * aborted) before shutdown abandons them: their callers get `TaskAbandonedError`, the
   * shutdown summary counts them (each at debug level with its task id, type and session),
   * and shutdown goes on. Default: 5_000 ms.
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
  /**
   * Cluster mode: tasks enqueued with the injected `Cluster` are stored in PostgreSQL
   * (pg-boss 12, an optional peer; Node >= 22.12) and run by whichever replica fetches them,
   * through this pool's lanes and `@TaskHandler`s, each session in order and one task at a
   * time across all replicas. See docs/cluster.md. Default: off (nothing of pg-boss is loaded).
   */
  cluster?: ClusterOptions;
}

/** Options that may come from config: everything but what decides the module's shape. */
export type WorkerPoolOptions = Omit<WorkerPoolModuleOptions, 'name' | 'isGlobal'>;

export interface WorkerPoolOptionsFactory {
  createWorkerPoolOptions(): Promise<WorkerPoolOptions> | WorkerPoolOptions;
}

/** A factory of pool options, as `forRootAsync` takes it. */
export type WorkerPoolOptionsFactoryFn = (
  ...args: any[]
) => Promise<WorkerPoolOptions> | WorkerPoolOptions;

export interface WorkerPoolModuleAsyncOptions<
  F extends WorkerPoolOptionsFactoryFn = WorkerPoolOptionsFactoryFn,
  C extends Type<WorkerPoolOptionsFactory> = Type<WorkerPoolOptionsFactory>,
> extends Pick<ModuleMetadata, 'imports'> {
  name?: string;
  isGlobal?: boolean;
  /**
   * Returns the pool's options (or a promise of them), called with the `inject` providers.
   * A key that is no option (a typo such as `drainTimeout`) fails to compile, as in `forRoot`.
   */
  useFactory?: F & RejectUnknownKeys<Awaited<ReturnType<F>>>;
  inject?: FactoryProvider['inject'];
  /** A class whose `createWorkerPoolOptions()` returns the options (unknown keys fail to compile). */
  useClass?: C & RejectUnknownKeys<ClassOptions<C>>;
  /** An existing provider of such a class. */
  useExisting?: C & RejectUnknownKeys<ClassOptions<C>>;
}

type ClassOptions<C extends Type<WorkerPoolOptionsFactory>> = Awaited<
  ReturnType<InstanceType<C>['createWorkerPoolOptions']>
>;

/*
 * The compiler checks no excess properties in what an arrow function returns, so a typo in a
 * factory's options would compile and fail at startup only. These types name such keys (with
 * their path, into nested options too) in the compile error instead.
 */
type RejectUnknownKeys<R> = [UnknownKeys<R, WorkerPoolOptions>] extends [never]
  ? unknown
  : { 'these keys are no WorkerPoolOptions': UnknownKeys<R, WorkerPoolOptions> };

type UnknownKeys<T, Shape> = 0 extends 1 & T
  ? never // any: nothing to check
  : T extends Function | readonly unknown[]
    ? never
    : T extends object
      ? {
          [K in keyof T & string]-?: K extends KeysOf<Shape>
            ? Nested<K, UnknownKeys<T[K], Exclude<PropOf<Shape, K>, Function | undefined>>>
            : K;
        }[keyof T & string]
      : never;

type KeysOf<S> = S extends unknown ? keyof S : never;
type PropOf<S, K extends PropertyKey> = S extends unknown
  ? K extends keyof S
    ? S[K]
    : never
  : never;
type Nested<K extends string, Sub> = Sub extends string ? `${K}.${Sub}` : never;

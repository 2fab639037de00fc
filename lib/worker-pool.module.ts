import {
  type DynamicModule,
  type FactoryProvider,
  Module,
  type Provider,
  type Type,
} from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AutoscaleJob } from './autoscaler/autoscale.job.js';
import { InvalidOptionError } from './core/index.js';
import type {
  WorkerPoolModuleAsyncOptions,
  WorkerPoolModuleOptions,
  WorkerPoolOptions,
  WorkerPoolOptionsFactory,
  WorkerPoolOptionsFactoryFn,
} from './interfaces/worker-pool-options.interface.js';
import { DEFAULT_POOL_NAME, WORKER_POOL_INSTANCE } from './worker-pool.constants.js';
import { UnknownPoolError } from './worker-pool.errors.js';
import { WorkerPoolExplorer } from './worker-pool.explorer.js';
import { WorkerPoolLifecycle } from './worker-pool.lifecycle.js';
import { WorkerPoolRef } from './worker-pool.ref.js';
import {
  getAutoscalerToken,
  getClusterToken,
  getDispatcherToken,
  getPoolRefToken,
  getThreadLanesToken,
  getWorkerPoolOptionsToken,
} from './worker-pool.tokens.js';

@Module({})
export class WorkerPoolModule {
  /** Registers one pool. Call once per pool; give each extra pool a `name`. */
  static forRoot(options: WorkerPoolModuleOptions = {}): DynamicModule {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError('options', options, 'an object of WorkerPoolModuleOptions');
    }
    const { name = DEFAULT_POOL_NAME, isGlobal = false, ...poolOptions } = options;
    return build(name, isGlobal, [], {
      provide: getWorkerPoolOptionsToken(checkName(name)),
      useValue: poolOptions,
    });
  }

  /**
   * Makes a pool registered elsewhere (with `forRoot` / `forRootAsync`) injectable in the
   * importing module: its `Dispatcher` (`@InjectDispatcher(name)` for a named pool),
   * `Autoscaler` and `ThreadLanes`. Not needed when the pool is `isGlobal`.
   */
  static forFeature(name: string = DEFAULT_POOL_NAME): DynamicModule {
    checkName(name);
    const origin = `WorkerPoolModule.forFeature(${name === DEFAULT_POOL_NAME ? '' : `'${name}'`})`;
    const providers = publicProviders(name, origin);
    return { module: WorkerPoolModule, providers, exports: providers.map((p) => p.provide) };
  }

  /** Registers one pool whose options come from a factory, a class or an existing provider. */
  static forRootAsync<
    F extends WorkerPoolOptionsFactoryFn = WorkerPoolOptionsFactoryFn,
    C extends Type<WorkerPoolOptionsFactory> = Type<WorkerPoolOptionsFactory>,
  >(options: WorkerPoolModuleAsyncOptions<F, C>): DynamicModule {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError(
        'options',
        options,
        'an object with useFactory, useClass or useExisting',
      );
    }
    const { name = DEFAULT_POOL_NAME, isGlobal = false, imports = [] } = options;
    const token = getWorkerPoolOptionsToken(checkName(name));
    const ways = [options.useFactory, options.useClass, options.useExisting].filter(Boolean).length;
    if (ways !== 1) {
      throw new InvalidOptionError(
        'forRootAsync',
        `${ways} option sources`,
        'exactly one of useFactory, useClass or useExisting',
      );
    }
    if (options.useFactory) {
      return build(name, isGlobal, imports, {
        provide: token,
        useFactory: options.useFactory,
        inject: options.inject ?? [],
      });
    }
    const factoryClass = (options.useClass ?? options.useExisting)!;
    const providers: Provider[] = [
      {
        provide: token,
        useFactory: (factory: WorkerPoolOptionsFactory) => factory.createWorkerPoolOptions(),
        inject: [factoryClass],
      },
    ];
    if (options.useClass) providers.push(options.useClass);
    return build(name, isGlobal, imports, ...providers);
  }
}

/**
 * A pool is two modules. Its own module (global, so that Nest initializes it before the
 * modules that use the pool, and so that `forFeature` can reach it from anywhere) owns the
 * engine, discovery and lifecycle, and exports only an internal token. The module returned
 * to the app provides the public tokens from it, global only with `isGlobal`.
 */
function build(
  name: string,
  isGlobal: boolean,
  imports: DynamicModule['imports'],
  ...optionProviders: Provider[]
): DynamicModule {
  if (typeof isGlobal !== 'boolean')
    throw new InvalidOptionError('isGlobal', isGlobal, 'true or false');
  const optionsToken = getWorkerPoolOptionsToken(name);
  const core: DynamicModule = {
    module: WorkerPoolCoreModule,
    global: true,
    imports: [DiscoveryModule, ...(imports ?? [])],
    providers: [
      ...optionProviders,
      {
        provide: WORKER_POOL_INSTANCE,
        useFactory: (options: WorkerPoolOptions) => new WorkerPoolRef(name, options),
        inject: [optionsToken],
      },
      { provide: getPoolRefToken(name), useExisting: WORKER_POOL_INSTANCE },
      WorkerPoolExplorer,
      WorkerPoolLifecycle,
      AutoscaleJob,
    ],
    exports: [getPoolRefToken(name), optionsToken],
  };
  const providers = publicProviders(name);
  return {
    module: WorkerPoolModule,
    global: isGlobal,
    imports: [core],
    providers,
    exports: providers.map((p) => p.provide),
  };
}

/**
 * The tokens users inject (dispatcher, autoscaler, thread lanes, cluster), read from the pool's own
 * module. With an `origin` (forFeature) a pool that is not registered is named in the error.
 */
function publicProviders(name: string, origin?: string): FactoryProvider[] {
  const token = getPoolRefToken(name);
  const inject = origin === undefined ? [token] : [{ token, optional: true }];
  const from = (read: (pool: WorkerPoolRef) => unknown) => (pool: WorkerPoolRef | undefined) => {
    if (pool === undefined) throw new UnknownPoolError(origin!, name);
    return read(pool);
  };
  return [
    { provide: getDispatcherToken(name), useFactory: from((p) => p.dispatcher), inject },
    { provide: getAutoscalerToken(name), useFactory: from((p) => p.autoscaler), inject },
    { provide: getThreadLanesToken(name), useFactory: from((p) => p.threads), inject },
    { provide: getClusterToken(name), useFactory: from((p) => p.cluster), inject },
  ];
}

/** The module that owns one pool (see `build`). */
@Module({})
class WorkerPoolCoreModule {}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError('name', name, 'a non-empty string naming the pool');
  }
  return name;
}

import { type DynamicModule, Module, type Provider } from '@nestjs/common';
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
import { WorkerPoolExplorer } from './worker-pool.explorer.js';
import { WorkerPoolLifecycle } from './worker-pool.lifecycle.js';
import { WorkerPoolRef } from './worker-pool.ref.js';
import {
  getAutoscalerToken,
  getDispatcherToken,
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

  /** Registers one pool whose options come from a factory, a class or an existing provider. */
  static forRootAsync<F extends WorkerPoolOptionsFactoryFn = WorkerPoolOptionsFactoryFn>(
    options: WorkerPoolModuleAsyncOptions<F>,
  ): DynamicModule {
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

function build(
  name: string,
  isGlobal: boolean,
  imports: DynamicModule['imports'],
  ...optionProviders: Provider[]
): DynamicModule {
  if (typeof isGlobal !== 'boolean')
    throw new InvalidOptionError('isGlobal', isGlobal, 'true or false');
  const optionsToken = getWorkerPoolOptionsToken(name);
  const dispatcherToken = getDispatcherToken(name);
  const autoscalerToken = getAutoscalerToken(name);
  const threadsToken = getThreadLanesToken(name);
  return {
    module: WorkerPoolModule,
    global: isGlobal,
    imports: [DiscoveryModule, ...(imports ?? [])],
    providers: [
      ...optionProviders,
      {
        provide: WORKER_POOL_INSTANCE,
        useFactory: (options: WorkerPoolOptions) => new WorkerPoolRef(name, options),
        inject: [optionsToken],
      },
      {
        provide: dispatcherToken,
        useFactory: (ref: WorkerPoolRef) => ref.dispatcher,
        inject: [WORKER_POOL_INSTANCE],
      },
      {
        provide: autoscalerToken,
        useFactory: (ref: WorkerPoolRef) => ref.autoscaler,
        inject: [WORKER_POOL_INSTANCE],
      },
      {
        provide: threadsToken,
        useFactory: (ref: WorkerPoolRef) => ref.threads,
        inject: [WORKER_POOL_INSTANCE],
      },
      WorkerPoolExplorer,
      WorkerPoolLifecycle,
      AutoscaleJob,
    ],
    exports: [dispatcherToken, autoscalerToken, threadsToken, optionsToken],
  };
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError('name', name, 'a non-empty string naming the pool');
  }
  return name;
}

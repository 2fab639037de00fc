import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { TaskHandlerMetadata } from './decorators/task-handler.decorator.js';
import { TASK_HANDLER_METADATA, WORKER_POOL_INSTANCE } from './worker-pool.constants.js';
import { RequestScopedHandlerError, UnknownPoolError } from './worker-pool.errors.js';
import { WorkerPoolRef } from './worker-pool.ref.js';

/** Finds `@TaskHandler` methods on providers and registers those of its pool. Discovery only. */
@Injectable()
export class WorkerPoolExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    @Inject(WORKER_POOL_INSTANCE) private readonly pool: WorkerPoolRef,
  ) {}

  onModuleInit(): void {
    const wrappers = this.discovery.getProviders();
    const pools = wrappers
      .filter((w) => w.instance instanceof WorkerPoolRef)
      .map((w) => (w.instance as WorkerPoolRef).name);
    for (const wrapper of wrappers) {
      const { instance, metatype } = wrapper;
      const prototype = instance
        ? Object.getPrototypeOf(instance)
        : (metatype as Function | null)?.prototype;
      if (!prototype || instance instanceof WorkerPoolRef) continue;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const metas = this.reflector.get<TaskHandlerMetadata[] | undefined>(
          TASK_HANDLER_METADATA,
          prototype[method],
        );
        if (metas === undefined) continue;
        const origin = `${prototype.constructor.name}.${method}`;
        for (const meta of metas) {
          if (!pools.includes(meta.pool))
            throw new UnknownPoolError(`@TaskHandler ${origin}`, meta.pool, pools);
          if (meta.pool !== this.pool.name) continue;
          if (!wrapper.isDependencyTreeStatic()) throw new RequestScopedHandlerError(origin);
          this.pool.dispatcher.registerHandler(meta.type, prototype[method].bind(instance), {
            origin,
            retry: meta.retry,
            timeoutMs: meta.timeoutMs,
            overlapOnTimeout: meta.overlapOnTimeout,
            priority: meta.priority,
            rateLimit: meta.rateLimit,
            batch: meta.batch,
          });
        }
      }
    }
  }
}

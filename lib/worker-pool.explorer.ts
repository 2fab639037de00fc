import { Inject, Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { scanTaskHandlers } from './task-handler.scanner.js';
import { WORKER_POOL_INSTANCE } from './worker-pool.constants.js';
import { RequestScopedHandlerError, UnknownPoolError } from './worker-pool.errors.js';
import { WorkerPoolRef } from './worker-pool.ref.js';

/**
 * Finds `@TaskHandler` methods on providers and registers those of its pool. Discovery only;
 * the lifecycle calls it once every provider exists, right before the pool starts.
 */
@Injectable()
export class WorkerPoolExplorer {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    @Inject(WORKER_POOL_INSTANCE) private readonly pool: WorkerPoolRef,
  ) {}

  registerHandlers(): void {
    // Each pool is listed under two tokens (its module's own and the one forFeature reads).
    const pools = [
      ...new Set(
        this.discovery
          .getProviders()
          .filter((w) => w.instance instanceof WorkerPoolRef)
          .map((w) => (w.instance as WorkerPoolRef).name),
      ),
    ];
    for (const { meta, fn, origin, wrapper } of scanTaskHandlers(
      this.discovery,
      this.scanner,
      this.reflector,
    )) {
      if (!pools.includes(meta.pool))
        throw new UnknownPoolError(`@TaskHandler ${origin}`, meta.pool, pools);
      if (meta.pool !== this.pool.name) continue;
      if (!wrapper.isDependencyTreeStatic()) throw new RequestScopedHandlerError(origin);
      const { type, pool: _pool, ...registration } = meta;
      const options = { ...registration, origin };
      // In cluster mode the handler is wrapped to read cluster tasks (ctx.attempt, redelivered).
      if (this.pool.cluster !== null) this.pool.cluster.registerHandler(type, fn, options);
      else this.pool.dispatcher.registerHandler(type, fn, options);
    }
  }
}

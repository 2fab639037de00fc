import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnModuleInit,
} from '@nestjs/common';
import { WORKER_POOL_INSTANCE } from './worker-pool.constants.js';
import { WorkerPoolExplorer } from './worker-pool.explorer.js';
import { abandonedTask, cancelledTask, drainSummary } from './worker-pool.messages.js';
import type { WorkerPoolRef } from './worker-pool.ref.js';

/**
 * Starts the pool as its module initializes (handlers first) and drains it before the app
 * goes down. Starting there, not at bootstrap, lets a provider's onModuleInit await a task:
 * Nest runs this module's hooks before those of the modules that use the pool (they import
 * it, or it is global), so started at bootstrap such a task would wait for a start that
 * comes only after the awaiting hook returns, and startup would hang.
 */
@Injectable()
export class WorkerPoolLifecycle implements OnModuleInit, BeforeApplicationShutdown {
  constructor(
    @Inject(WORKER_POOL_INSTANCE) private readonly pool: WorkerPoolRef,
    private readonly explorer: WorkerPoolExplorer,
  ) {}

  // In thread mode the pool is ready only once the threads have booted and reported their types
  // (their proxies read cluster tasks themselves); in cluster mode once connected to its queues
  // (then it starts the pool and fetching).
  async onModuleInit(): Promise<void> {
    this.explorer.registerHandlers();
    await this.pool.threads?.start();
    if (this.pool.cluster !== null) await this.pool.cluster.start();
    else this.pool.dispatcher.start();
  }

  // Cluster mode stops fetching first, then drains the pool and writes every outcome.
  async beforeApplicationShutdown(): Promise<void> {
    const { drainTimeoutMs: deadline, drainGraceMs: graceMs } = this.pool;
    const report = await (this.pool.cluster !== null
      ? this.pool.cluster.stop(deadline, { graceMs })
      : this.pool.dispatcher.drain(deadline, { graceMs }));
    await this.pool.threads?.close();
    const { logger, name, drainTimeoutMs, drainGraceMs } = this.pool;
    // One line above debug however large the backlog; each task once, at debug.
    for (const t of report.cancelledTasks) logger.debug(cancelledTask(t));
    for (const t of report.abandonedTasks) logger.debug(abandonedTask(t, drainGraceMs));
    const line = drainSummary(name, report, { drainTimeoutMs, drainGraceMs });
    if (report.cancelled > 0 || report.abandonedTasks.length > 0) logger.warn(line);
    else logger.log(line);
  }
}

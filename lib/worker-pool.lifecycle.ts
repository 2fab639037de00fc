import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { WORKER_POOL_INSTANCE } from './worker-pool.constants.js';
import { abandonedTask, cancelledTask, drainSummary } from './worker-pool.messages.js';
import type { WorkerPoolRef } from './worker-pool.ref.js';

/** Starts the pool once the app is up and drains it before the app goes down. */
@Injectable()
export class WorkerPoolLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(@Inject(WORKER_POOL_INSTANCE) private readonly pool: WorkerPoolRef) {}

  // In thread mode the app is ready only once the threads have booted and reported their types.
  async onApplicationBootstrap(): Promise<void> {
    await this.pool.threads?.start();
    this.pool.dispatcher.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    const report = await this.pool.dispatcher.drain(this.pool.drainTimeoutMs, {
      graceMs: this.pool.drainGraceMs,
    });
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

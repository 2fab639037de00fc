import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { WORKER_POOL_INSTANCE } from './worker-pool.constants.js';
import { drainSummary } from './worker-pool.messages.js';
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
    for (const t of report.abandonedTasks) {
      this.pool.logger.error(
        `Abandoned task ${t.taskId} (${t.type}${t.sessionId === undefined ? '' : `, session ${t.sessionId}`}): still running ${this.pool.drainGraceMs} ms after the drain deadline.`,
      );
    }
    const line = drainSummary(this.pool.name, report);
    if (report.cancelled > 0 || report.abandonedTasks.length > 0) this.pool.logger.warn(line);
    else this.pool.logger.log(line);
  }
}

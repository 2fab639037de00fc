import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { WORKER_POOL_INSTANCE } from '../worker-pool.constants.js';
import { AutoscaleSetupError } from '../worker-pool.errors.js';
import {
  autoscaleBadCron,
  autoscaleRegistryMissing,
  autoscaleScheduleMissing,
} from '../worker-pool.messages.js';
import type { WorkerPoolRef } from '../worker-pool.ref.js';

type Registry = {
  addCronJob(name: string, job: unknown): void;
  doesExist(type: 'cron', name: string): boolean;
  deleteCronJob(name: string): void;
};

/**
 * Runs the pool's autoscaler on a cron job registered at runtime in `SchedulerRegistry`,
 * so the period comes from options. `@nestjs/schedule` is loaded only when autoscale is on.
 */
@Injectable()
export class AutoscaleJob implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private registry: Registry | undefined;
  private job: { stop(): unknown } | undefined;

  constructor(
    @Inject(WORKER_POOL_INSTANCE) private readonly pool: WorkerPoolRef,
    private readonly moduleRef: ModuleRef,
  ) {}

  get name(): string {
    return `nest-worker-pool:autoscale:${this.pool.name}`;
  }

  async onApplicationBootstrap(): Promise<void> {
    const autoscaler = this.pool.autoscaler;
    if (autoscaler === null) return;
    const [schedule, cron] = await Promise.all([import('@nestjs/schedule'), import('cron')]).catch(
      (error: unknown) => {
        throw new AutoscaleSetupError(autoscaleScheduleMissing(this.pool.name), { cause: error });
      },
    );
    try {
      this.registry = this.moduleRef.get(schedule.SchedulerRegistry, { strict: false });
    } catch (error) {
      throw new AutoscaleSetupError(autoscaleRegistryMissing(this.pool.name), { cause: error });
    }
    let job: { stop(): unknown };
    try {
      job = cron.CronJob.from({
        cronTime: autoscaler.cron,
        onTick: () => {
          try {
            autoscaler.tick();
          } catch (error) {
            this.pool.logger.error(
              `Autoscaler tick failed: ${String(error)}`,
              (error as Error)?.stack,
            );
          }
        },
        start: true,
      });
    } catch (error) {
      throw new AutoscaleSetupError(autoscaleBadCron(this.pool.name, autoscaler.cron, error), {
        cause: error,
      });
    }
    this.job = job;
    this.registry!.addCronJob(this.name, job);
  }

  beforeApplicationShutdown(): void {
    this.job?.stop();
    // ScheduleModule may have deleted its jobs already when it shut down first.
    if (this.registry?.doesExist('cron', this.name)) this.registry.deleteCronJob(this.name);
    this.job = undefined;
  }
}

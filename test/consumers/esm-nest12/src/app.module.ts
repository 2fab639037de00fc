// A user's app as the README shows it: options from config (strings, converted), a handler,
// a controller that submits, the Terminus health check, the autoscaler on @nestjs/schedule, and
// a second pool whose lanes are worker threads.
import { Controller, Get, Injectable, Module, Param } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Dispatcher, type TaskContext, TaskHandler, WorkerPoolModule } from 'nest-worker-pool';
import { WorkerPoolHealthIndicator } from 'nest-worker-pool/health';

/** Like @nestjs/config's ConfigService: every value read from the environment is a string. */
@Injectable()
export class AppConfig {
  get(key: string): string | undefined {
    return process.env[key];
  }
}

@Module({ providers: [AppConfig], exports: [AppConfig] })
export class AppConfigModule {}

@Injectable()
export class EchoHandlers {
  @TaskHandler('echo')
  async echo(text: string, ctx: TaskContext) {
    return { text: text.toUpperCase(), session: ctx.sessionId };
  }
}

@Controller()
export class AppController {
  constructor(
    private readonly pool: Dispatcher,
    private readonly health: HealthCheckService,
    private readonly poolHealth: WorkerPoolHealthIndicator,
  ) {}

  @Get('echo/:session/:text')
  echo(@Param('session') session: string, @Param('text') text: string) {
    return this.pool.submit('echo', text, { sessionId: session });
  }

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.poolHealth.isHealthy('workerPool')]);
  }
}

@Module({
  imports: [
    TerminusModule,
    ScheduleModule.forRoot(),
    WorkerPoolModule.forRootAsync({
      imports: [AppConfigModule],
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        lanes: Number(config.get('POOL_LANES') ?? 2),
        maxLanes: 8,
        drainTimeoutMs: 2_000,
        autoscale: { min: 1, max: 8 },
      }),
    }),
    WorkerPoolModule.forRoot({
      name: 'cpu',
      lanes: 1,
      threads: { module: new URL('./cpu.module.js', import.meta.url) },
    }),
  ],
  controllers: [AppController],
  providers: [EchoHandlers, WorkerPoolHealthIndicator],
})
export class AppModule {}

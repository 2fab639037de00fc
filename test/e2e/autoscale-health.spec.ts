import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Controller, Get, Injectable } from '@nestjs/common';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { WorkerPoolHealthIndicator } from '../../lib/health/index.js';
import {
  Autoscaler,
  AutoscaleSetupError,
  Dispatcher,
  type TaskContext,
  TaskHandler,
  WorkerPoolModule,
} from '../../lib/index.js';
import { deferred } from '../support/deferred.js';

const gate = { hold: deferred() };

@Injectable()
class Work {
  readonly started = new Map<string, number[]>();
  running = new Set<string>();
  overlaps = 0;

  @TaskHandler('work')
  async run(n: number, ctx: TaskContext): Promise<void> {
    const s = ctx.sessionId!;
    if (this.running.has(s)) this.overlaps++;
    this.running.add(s);
    (this.started.get(s) ?? this.started.set(s, []).get(s)!).push(n);
    await new Promise((r) => setTimeout(r, 50));
    this.running.delete(s);
  }

  @TaskHandler('hold')
  hold(): Promise<void> {
    return gate.hold.promise;
  }
}

@Controller()
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly pool: WorkerPoolHealthIndicator,
  ) {}

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.pool.isHealthy('workerPool', { maxQueuedPerLane: 50, maxOldestWaitMs: 60_000 }),
    ]);
  }
}

async function boot() {
  const moduleRef = await Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      TerminusModule,
      WorkerPoolModule.forRoot({
        lanes: 2,
        maxLanes: 16,
        drainTimeoutMs: 60_000,
        autoscale: {
          min: 2,
          max: 8,
          cron: '* * * * * *',
          policy: { scaleUpDelayMs: 3_000, scaleDownDelayMs: 10_000 },
        },
      }),
    ],
    controllers: [HealthController],
    providers: [Work, WorkerPoolHealthIndicator],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('autoscaler and health (e2e)', () => {
  afterEach(() => jest.useRealTimers());

  it('grows under a backlog, shrinks back to min when idle, keeps order, and reports health', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    gate.hold = deferred();
    const app = await boot();
    const pool = app.get(Dispatcher);
    const scaler = app.get(Autoscaler);
    const registry = app.get(SchedulerRegistry);
    const server = app.getHttpServer();
    const live = () => pool.stats().lanes.filter((l) => !l.retiring).length;
    expect(registry.doesExist('cron', 'nest-worker-pool:autoscale:default')).toBe(true);

    const health = await request(server).get('/health').expect(200);
    expect(health.body).toMatchObject({
      status: 'ok',
      info: { workerPool: { status: 'up', lanes: 2 } },
    });

    // 12 s of load: every 100 ms, 10 new sessions with 3 tasks each (each task takes 50 ms).
    const work: Promise<unknown>[] = [];
    let next = 0;
    let peak = 0;
    for (let step = 0; step < 120; step++) {
      for (let k = 0; k < 10; k++, next++) {
        for (let n = 0; n < 3; n++) work.push(pool.submit('work', n, { sessionId: `s${next}` }));
      }
      await jest.advanceTimersByTimeAsync(100);
      peak = Math.max(peak, live());
    }
    expect(peak).toBeGreaterThan(2);
    expect(peak).toBeLessThanOrEqual(8);
    const decisions = scaler.decisions();
    expect(decisions.some((d) => d.direction === 'up' && d.applied)).toBe(true);

    // Let the backlog clear, then idle past the scale-down delay.
    while (pool.stats().queued + pool.stats().running > 0) await jest.advanceTimersByTimeAsync(500);
    await Promise.all(work);
    for (let i = 0; i < 80 && live() > 2; i++) await jest.advanceTimersByTimeAsync(1_000);
    expect(live()).toBe(2);

    const w = app.get(Work);
    expect(w.overlaps).toBe(0);
    for (const order of w.started.values()) expect(order).toEqual([0, 1, 2]);
    expect(w.started.size).toBe(1_200);

    // An injected backlog makes the pool degraded (still 200), then draining makes it down (503).
    scaler.pause();
    const held = pool.submit('hold', null, { sessionId: 'h' });
    const backlog = Array.from({ length: 150 }, (_, i) =>
      pool.submit('work', i, { sessionId: 'h' }),
    );
    const degraded = await request(server).get('/health').expect(200);
    expect(degraded.body.info.workerPool).toMatchObject({
      status: 'degraded',
      reason: /backlog above 50/,
    });

    const closing = app.close();
    while (pool.accepting) await new Promise((r) => setImmediate(r));
    const down = await request(server).get('/health').expect(503);
    expect(down.body.error.workerPool).toMatchObject({ status: 'down', state: 'draining' });
    gate.hold.resolve();
    await jest.advanceTimersByTimeAsync(150 * 50 + 1_000);
    await closing;
    await Promise.all([held, ...backlog]);
    expect(registry.doesExist('cron', 'nest-worker-pool:autoscale:default')).toBe(false);
    expect(pool.stats().state).toBe('stopped');
  });

  it('fails startup with a named error when ScheduleModule is not imported', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [WorkerPoolModule.forRoot({ autoscale: { min: 1, max: 2 } })],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await expect(app.init()).rejects.toThrow(AutoscaleSetupError);
    await expect(app.close()).resolves.toBeUndefined();
  });
});

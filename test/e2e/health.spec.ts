import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { WorkerPoolHealthIndicator } from '../../lib/health/index.js';
import { Dispatcher, TaskHandler, WorkerPoolModule } from '../../lib/index.js';

@Injectable()
class Stuck {
  @TaskHandler('stuck', { timeoutMs: 1_000 })
  run(): Promise<void> {
    return new Promise(() => undefined); // ignores its signal, never settles
  }
}

describe('WorkerPoolHealthIndicator', () => {
  afterEach(() => jest.useRealTimers());

  it('is up, then down once a handler runs on at over twice its timeout', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    const moduleRef = await Test.createTestingModule({
      imports: [
        TerminusModule,
        WorkerPoolModule.forRoot({ lanes: 2, drainTimeoutMs: 0, drainGraceMs: 100 }),
      ],
      providers: [Stuck, WorkerPoolHealthIndicator],
    }).compile();
    const app = await moduleRef.createNestApplication({ logger: false }).init();
    const health = app.get(WorkerPoolHealthIndicator);
    const pool = app.get(Dispatcher);
    const result = pool.submit('stuck', null, { sessionId: 's' }).catch((e: unknown) => e);
    expect(health.isHealthy()).toMatchObject({ workerPool: { status: 'up' } });
    await jest.advanceTimersByTimeAsync(1_000);
    await expect(result).resolves.toMatchObject({ name: 'TaskTimeoutError' });
    expect(pool.stats()).toMatchObject({ lateTasks: 1, overdueTasks: 0 });
    expect(health.isHealthy()).toMatchObject({ workerPool: { status: 'up', lateTasks: 1 } });
    await jest.advanceTimersByTimeAsync(1_001);
    expect(pool.stats().overdueTasks).toBe(1);
    expect(health.isHealthy()).toMatchObject({
      workerPool: {
        status: 'down',
        reason: expect.stringMatching(/over twice their timeout: a lane is stuck/),
      },
    });
    expect(() => health.isHealthy('x', { maxQueuedPerLane: -1 })).toThrow(/maxQueuedPerLane/);
    // Force shutdown: app.close() returns although the handler never settles.
    const closing = app.close();
    await jest.advanceTimersByTimeAsync(100);
    await closing;
    expect(pool.stats()).toMatchObject({ state: 'stopped', lateTasks: 0 });
  });

  it('says "import TerminusModule" when the indicator is provided without it', async () => {
    const moduleRef = Test.createTestingModule({
      imports: [WorkerPoolModule.forRoot({ lanes: 1 })],
      providers: [WorkerPoolHealthIndicator],
    });
    await expect(moduleRef.compile()).rejects.toMatchObject({
      name: 'HealthSetupError',
      code: 'HEALTH_SETUP',
      message: expect.stringMatching(
        /^WorkerPoolHealthIndicator needs @nestjs\/terminus's HealthIndicatorService: import TerminusModule /,
      ),
    });
  });
});

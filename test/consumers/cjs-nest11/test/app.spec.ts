// The app's unit test as a CommonJS Nest project writes it: a testing module with the pool,
// a handler and the health indicator, run by Jest.
import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { TerminusModule } from '@nestjs/terminus';
import { Dispatcher, WorkerPoolModule } from 'nest-worker-pool';
import { WorkerPoolHealthIndicator } from 'nest-worker-pool/health';
import { EchoHandlers } from '../src/app.module';

describe('a testing module with the pool', () => {
  it('runs a task and reports healthy', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [TerminusModule, WorkerPoolModule.forRoot({ lanes: 2 })],
      providers: [EchoHandlers, WorkerPoolHealthIndicator],
    }).compile();
    const app = await moduleRef.createNestApplication({ logger: false }).init();
    await expect(app.get(Dispatcher).submit('echo', 'hi', { sessionId: 's' })).resolves.toEqual({
      text: 'HI',
      session: 's',
    });
    expect(app.get(WorkerPoolHealthIndicator).isHealthy()).toMatchObject({
      workerPool: { status: 'up', lanes: 2 },
    });
    await app.close();
  });
});

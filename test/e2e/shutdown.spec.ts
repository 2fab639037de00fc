import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Dispatcher, TaskAbandonedError, TaskHandler, WorkerPoolModule } from '../../lib/index.js';

@Injectable()
class Hung {
  @TaskHandler('hang')
  hang(): Promise<never> {
    return new Promise(() => undefined); // ignores ctx.signal too
  }
}

describe('shutdown after a drain the app began without a deadline', () => {
  it("app.close() still ends by the module's drainTimeoutMs + drainGraceMs: the hung handler is abandoned", async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [WorkerPoolModule.forRoot({ lanes: 1, drainTimeoutMs: 20, drainGraceMs: 20 })],
      providers: [Hung],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const pool = app.get(Dispatcher);
    const hung = pool.submit('hang', null).catch((e: unknown) => e);
    const own = pool.drain(); // no deadline: alone, it would wait for the handler forever
    await app.close();
    await expect(hung).resolves.toBeInstanceOf(TaskAbandonedError);
    await expect(own).resolves.toMatchObject({
      deadlineReached: true,
      abandonedTasks: [{ type: 'hang' }],
    });
    expect(pool.stats().state).toBe('stopped');
  });
});

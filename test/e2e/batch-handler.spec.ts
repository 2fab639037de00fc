import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  type BatchContext,
  type BatchItem,
  Dispatcher,
  InvalidOptionError,
  TaskHandler,
  WorkerPoolModule,
} from '../../lib/index.js';

interface AuditEntry {
  user: string;
  action: string;
}

@Injectable()
class AuditWriter {
  readonly writes: AuditEntry[][] = [];

  // A bulk insert: one call per batch, one row id back per item.
  @TaskHandler('audit.write', { batch: { maxSize: 50, maxWaitMs: 5 } })
  async write(items: BatchItem<AuditEntry>[], ctx: BatchContext): Promise<number[]> {
    expect(ctx).toMatchObject({ type: 'audit.write', size: items.length });
    this.writes.push(items.map((i) => i.payload));
    const first = this.writes.flat().length - items.length;
    return items.map((_, i) => first + i + 1);
  }
}

describe('@TaskHandler batch (e2e)', () => {
  it('hands the DI instance batches, one task per session, and each caller its own result', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [WorkerPoolModule.forRoot({ lanes: 2 })],
      providers: [AuditWriter],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const pool = app.get(Dispatcher);
    const users = ['ada', 'bob', 'cy', 'dee'];
    const ids = await Promise.all(
      Array.from({ length: 40 }, (_, n) =>
        pool.submit<number>(
          'audit.write',
          { user: users[n % 4], action: `a${n}` },
          { sessionId: users[n % 4] },
        ),
      ),
    );
    const writer = app.get(AuditWriter);
    // Every task got a distinct row id, and each batch held a user at most once.
    expect(new Set(ids).size).toBe(40);
    for (const batch of writer.writes)
      expect(new Set(batch.map((e) => e.user)).size).toBe(batch.length);
    // Each user's actions were written in submission order.
    for (const user of users) {
      const actions = writer.writes.flat().filter((e) => e.user === user);
      expect(actions.map((e) => Number(e.action.slice(1)))).toEqual(
        Array.from({ length: 10 }, (_, k) => users.indexOf(user) + 4 * k),
      );
    }
    expect(writer.writes.length).toBeLessThan(40);
    expect(pool.stats().types['audit.write']).toMatchObject({
      completed: 40,
      batches: writer.writes.length,
    });
    await app.close();
  });

  it('refuses a bad batch option where the decorator is applied', () => {
    expect(() => TaskHandler('x', { batch: { maxSize: 0, maxWaitMs: 5 } })).toThrow(
      InvalidOptionError,
    );
  });
});

// Cluster mode through the Nest module on the real PostgreSQL: forRoot / forRootAsync with a
// `cluster` option run the same @TaskHandler methods for tasks enqueued with the injected
// Cluster; app.close() stops fetching and finishes what the pool holds.
import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import {
  Cluster,
  type ClusterBatchItem,
  type ClusterTaskContext,
  Dispatcher,
  InjectCluster,
  TaskHandler,
  WorkerPoolModule,
} from '../../lib/index.js';
import { deferred } from '../support/deferred.js';
import { cutOff, describeCluster, freshDatabase } from '../support/cluster.js';
import { TerminusModule } from '@nestjs/terminus';
import { WorkerPoolHealthIndicator } from '../../lib/health/index.js';

const seen = new Map<string, ReturnType<typeof deferred<[string, number, string | undefined]>>>();

@Injectable()
class Greeter {
  @TaskHandler('greet')
  greet(name: string, ctx: ClusterTaskContext): void {
    seen.get(name)?.resolve([name, ctx.attempt, ctx.sessionId]);
  }
}

@Injectable()
class AuditWriter {
  readonly calls: Array<Array<[string, string | undefined, number]>> = [];

  // Starts when it holds 2 tasks (one per session): each test's tasks fill it.
  @TaskHandler('audit', { batch: { maxSize: 2, maxWaitMs: 60_000 } })
  write(items: ClusterBatchItem<string>[]): string[] {
    this.calls.push(items.map((i) => [i.payload, i.ctx.sessionId, i.ctx.attempt]));
    return items.map((i) => `row of ${i.payload}`);
  }
}

@Injectable()
class Sender {
  constructor(@InjectCluster() readonly cluster: Cluster | null) {}
}

describeCluster('cluster mode through WorkerPoolModule (e2e)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    db = await freshDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  async function app(imports: unknown[], providers: unknown[] = []) {
    const moduleRef = await Test.createTestingModule({
      imports: imports as never[],
      providers: [Greeter, Sender, ...providers] as never[],
    }).compile();
    const nest = moduleRef.createNestApplication({ logger: false });
    await nest.init();
    return nest;
  }

  it('forRoot({ cluster }): an enqueued task runs on the @TaskHandler, the Cluster is injectable, close() stops it', async () => {
    const nest = await app([
      WorkerPoolModule.forRoot({
        lanes: 2,
        cluster: { connectionString: db.url, queuePrefix: 'e2e1', pollIntervalMs: 50 },
      }),
    ]);
    const cluster = nest.get(Sender).cluster!;
    expect(cluster).toBe(nest.get(Cluster));
    const ran = deferred<[string, number, string | undefined]>();
    seen.set('ada', ran);
    await cluster.enqueue('greet', 'ada', { sessionId: 'conv-1' });
    expect(await ran.promise).toEqual(['ada', 1, 'conv-1']);
    await nest.close();
    expect(nest.get(Dispatcher).stats().state).toBe('stopped');
    await expect(cluster.enqueue('greet', 'late')).rejects.toThrow(/stopped/);
  });

  it('a @TaskHandler batch method runs cluster tasks: one call for two sessions, each submit gets its own row', async () => {
    const nest = await app(
      [
        WorkerPoolModule.forRoot({
          lanes: 1,
          cluster: { connectionString: db.url, queuePrefix: 'e2e-batch', pollIntervalMs: 50 },
        }),
      ],
      [AuditWriter],
    );
    try {
      const cluster = nest.get(Cluster);
      const rows = await Promise.all([
        cluster.submit('audit', 'login', { sessionId: 'ada' }),
        cluster.submit('audit', 'logout', { sessionId: 'bob' }),
      ]);
      expect(rows).toEqual(['row of login', 'row of logout']);
      expect(nest.get(AuditWriter).calls.map((c) => [...c].sort())).toEqual([
        [
          ['login', 'ada', 1],
          ['logout', 'bob', 1],
        ],
      ]);
    } finally {
      await nest.close();
    }
  });

  it('forRootAsync: the cluster options come from a factory', async () => {
    const nest = await app([
      WorkerPoolModule.forRootAsync({
        useFactory: async () => ({
          cluster: { connectionString: db.url, queuePrefix: 'e2e2', pollIntervalMs: 50 },
        }),
      }),
    ]);
    const ran = deferred<[string, number, string | undefined]>();
    seen.set('grace', ran);
    await nest.get(Cluster).enqueue('greet', 'grace');
    expect(await ran.promise).toEqual(['grace', 1, undefined]);
    await nest.close();
  });

  it('without the cluster option the injected Cluster is null', async () => {
    const nest = await app([WorkerPoolModule.forRoot({ lanes: 1 })]);
    expect(nest.get(Sender).cluster).toBeNull();
    await nest.close();
  });

  it('isClusterHealthy: up with the cluster figures, down while the database is unreachable, up again after', async () => {
    const own = await freshDatabase();
    const errors: unknown[] = [];
    const nest = await app(
      [
        TerminusModule,
        WorkerPoolModule.forRoot({
          cluster: {
            connectionString: own.url,
            pollIntervalMs: 50,
            onError: (e) => errors.push(e),
          },
        }),
      ],
      [WorkerPoolHealthIndicator],
    );
    try {
      const health = nest.get(WorkerPoolHealthIndicator);
      expect(await health.isClusterHealthy()).toEqual({
        workerPoolCluster: {
          status: 'up',
          queued: 0,
          active: 0,
          oldestWaitMs: 0,
          blockedSessions: 0,
          replicas: 1,
        },
      });
      const reopen = await cutOff(own.name);
      const down = await health.isClusterHealthy('db', { timeoutMs: 2_000 });
      expect(down).toMatchObject({
        db: {
          status: 'down',
          reason: expect.stringMatching(/^the cluster's database is unreachable: /),
        },
      });
      await reopen();
      expect(await health.isClusterHealthy('db')).toMatchObject({ db: { status: 'up' } });
      await expect(health.isClusterHealthy('x', { timeoutMs: 0 })).rejects.toThrow(/timeoutMs/);
    } finally {
      await nest.close();
      await own.drop();
    }
  });
});

// How cluster mode writes to PostgreSQL under load, on the real database: stores made together
// share INSERT statements (group commit) and keep each session's call order.
import { afterAll, afterEach, beforeAll, expect, it } from '@jest/globals';
import type { PgBoss } from 'pg-boss';
import { Dispatcher } from '../../lib/core/index.js';
import { Cluster, type ClusterOptions } from '../../lib/cluster/index.js';
import { deferred } from '../support/deferred.js';
import { describeCluster, freshDatabase } from '../support/cluster.js';

describeCluster('cluster mode: statements', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let boss: PgBoss;
  /** Calls that store jobs: send() stores one, insert() a list. */
  const writes = { send: 0, insert: 0 };
  const running: Cluster[] = [];
  let prefixes = 0;

  beforeAll(async () => {
    db = await freshDatabase();
    const { PgBoss } = await import('pg-boss');
    boss = new PgBoss({ connectionString: db.url, supervise: false, schedule: false });
    boss.on('error', () => {});
    await boss.start();
    const { send, insert } = boss;
    boss.send = ((...args: Parameters<typeof send>) => {
      writes.send++;
      return send.apply(boss, args);
    }) as typeof send;
    boss.insert = ((...args: Parameters<typeof insert>) => {
      writes.insert++;
      return insert.apply(boss, args);
    }) as typeof insert;
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop(1_000)));
  });

  afterAll(async () => {
    await boss?.stop({ graceful: false });
    await db?.drop();
  });

  function cluster(options: Partial<ClusterOptions>): Cluster {
    const c = new Cluster(new Dispatcher({ lanes: 4 }), {
      boss: boss as never,
      queuePrefix: `w${++prefixes}`,
      shards: 2,
      ...options,
    });
    running.push(c);
    return c;
  }

  it('600 unawaited enqueues over 200 sessions go in far fewer INSERT statements, each session still in call order', async () => {
    const c = cluster({ pollIntervalMs: 50 });
    const seen = new Map<string, number[]>();
    let ran = 0;
    const all = deferred();
    c.registerHandler('step', (seq: number, ctx) => {
      const s = ctx.sessionId!;
      seen.set(s, [...(seen.get(s) ?? []), seq]);
      if (++ran === 600) all.resolve();
    });
    await c.start();
    writes.send = writes.insert = 0;
    const stored: Promise<string>[] = [];
    for (let seq = 0; seq < 3; seq++)
      for (let s = 0; s < 200; s++) stored.push(c.enqueue('step', seq, { sessionId: `s${s}` }));
    await Promise.all(stored);
    const statements = writes.send + writes.insert;
    // One per shard and per session step at least (3 x 2 shards), nowhere near one per task.
    expect(statements).toBeGreaterThanOrEqual(6);
    expect(statements).toBeLessThanOrEqual(60);
    await all.promise;
    for (let s = 0; s < 200; s++) expect(seen.get(`s${s}`)).toEqual([0, 1, 2]);
  });
});

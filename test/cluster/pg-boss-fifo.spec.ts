// What cluster mode builds on, checked against the pinned pg-boss on the real PostgreSQL: a
// `key_strict_fifo` queue hands out one job per key at a time, in send order, across workers;
// a job waiting to retry, or failed for good, holds its key. A `standard` queue beside it shows
// the checks can fail.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Job, PgBoss as PgBossType } from 'pg-boss';
import { describeCluster, freshDatabase } from '../support/cluster.js';

type Seq = { seq: number };

describeCluster('pg-boss key_strict_fifo (the guarantee cluster mode relies on)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let a: PgBossType;
  let b: PgBossType;

  beforeAll(async () => {
    const { PgBoss } = await import('pg-boss');
    db = await freshDatabase();
    // Two instances with their own connection pools stand for two workers.
    a = new PgBoss({ connectionString: db.url, supervise: false, schedule: false });
    b = new PgBoss({ connectionString: db.url, supervise: false, schedule: false, migrate: false });
    a.on('error', () => {});
    b.on('error', () => {});
    await a.start();
    await b.start();
  });

  afterAll(async () => {
    await a?.stop({ graceful: false });
    await b?.stop({ graceful: false });
    await db?.drop();
  });

  async function sendAll(queue: string, key: string, n: number): Promise<void> {
    // One send per job, in order: created_on orders a key's jobs.
    for (let seq = 0; seq < n; seq++) await a.send(queue, { seq }, { singletonKey: key });
  }

  it('hands one job of a key at a time, even to a batch fetch, while a standard queue hands them all', async () => {
    await a.createQueue('strict-1', { policy: 'key_strict_fifo' });
    await a.createQueue('standard-1', { policy: 'standard' });
    await sendAll('strict-1', 'k', 5);
    await sendAll('standard-1', 'k', 5);

    const held = await a.fetch<Seq>('strict-1', { batchSize: 10 });
    expect(held.map((j) => j.data.seq)).toEqual([0]);
    // While worker a holds job 0, worker b gets nothing of that key.
    expect(await b.fetch('strict-1', { batchSize: 10 })).toEqual([]);
    await a.complete('strict-1', held[0]!.id);
    expect((await b.fetch<Seq>('strict-1', { batchSize: 10 })).map((j) => j.data.seq)).toEqual([1]);

    // The control: without the policy all jobs of one key are handed out at once.
    const all = await a.fetch<Seq>('standard-1', { batchSize: 10 });
    expect(all.map((j) => j.data.seq).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('a failed job waiting to retry holds its key, and runs again before its successors', async () => {
    await a.createQueue('strict-2', { policy: 'key_strict_fifo', retryLimit: 1, retryDelay: 0 });
    await sendAll('strict-2', 'k', 3);
    const [first] = await a.fetch<Seq>('strict-2');
    await a.fail('strict-2', first!.id, { message: 'boom' });
    const [again] = await b.fetch<Seq>('strict-2', { batchSize: 10 });
    expect(again!.data.seq).toBe(0);
    expect(again!.retryCount).toBe(1);
    await b.complete('strict-2', again!.id);
    expect((await a.fetch<Seq>('strict-2')).map((j) => j.data.seq)).toEqual([1]);
  });

  it('a job failed for good holds its key (listed by getBlockedKeys) until it is deleted, other keys run', async () => {
    await a.createQueue('strict-3', { policy: 'key_strict_fifo', retryLimit: 0 });
    await sendAll('strict-3', 'stuck', 2);
    await sendAll('strict-3', 'free', 1);
    const jobs = await a.fetch<Seq>('strict-3', { batchSize: 10, includeMetadata: true });
    const stuck = jobs.find((j) => j.singletonKey === 'stuck')!;
    await a.fail('strict-3', stuck.id, { message: 'poison' });
    await a.complete('strict-3', jobs.find((j) => j.singletonKey === 'free')!.id);

    expect(await b.fetch('strict-3', { batchSize: 10 })).toEqual([]);
    expect(await a.getBlockedKeys('strict-3')).toEqual(['stuck']);
    await a.deleteJob('strict-3', stuck.id);
    expect((await b.fetch<Seq>('strict-3')).map((j) => j.data.seq)).toEqual([1]);
  });

  it('two workers fetching in batches of 8 over 200 jobs of 4 keys, with failures: order kept, one in flight per key, none lost', async () => {
    const keys = ['k0', 'k1', 'k2', 'k3'];
    await a.createQueue('strict-4', { policy: 'key_strict_fifo', retryLimit: 3, retryDelay: 0 });
    for (let seq = 0; seq < 50; seq++) {
      for (const key of keys) await a.send('strict-4', { seq }, { singletonKey: key });
    }
    const done = new Map<string, number[]>(keys.map((k) => [k, []]));
    const inFlight = new Map<string, number>();
    let overlaps = 0;
    let failures = 0;
    let completed = 0;

    async function run(boss: PgBossType, job: Job<Seq> & { singletonKey: string | null }) {
      const key = job.singletonKey!;
      const n = (inFlight.get(key) ?? 0) + 1;
      inFlight.set(key, n);
      if (n > 1) overlaps++;
      // Yield so the other worker's fetch can interleave with this job.
      await new Promise((r) => setImmediate(r));
      inFlight.set(key, inFlight.get(key)! - 1);
      // Every seventh job fails its first attempt.
      if (job.data.seq % 7 === 3 && job.retryCount === 0) {
        failures++;
        await boss.fail('strict-4', job.id, { message: 'injected' });
        return;
      }
      done.get(key)!.push(job.data.seq);
      completed++;
      await boss.complete('strict-4', job.id);
    }

    async function worker(boss: PgBossType) {
      let idle = 0;
      while (completed < 200 && idle < 200) {
        const jobs = await boss.fetch<Seq>('strict-4', { batchSize: 8, includeMetadata: true });
        idle = jobs.length === 0 ? idle + 1 : 0;
        await Promise.all(jobs.map((job) => run(boss, job)));
      }
    }

    await Promise.all([worker(a), worker(b)]);
    expect(overlaps).toBe(0);
    expect(failures).toBe(keys.length * 7);
    for (const key of keys) expect(done.get(key)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

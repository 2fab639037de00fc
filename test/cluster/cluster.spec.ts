// Cluster mode in one process on the real PostgreSQL: a task enqueued is committed, fetched and
// run by the pool's handler; attempts count across the queue's retries; a session whose last
// attempt failed blocks (or its task goes to the dead-letter queue); bad input is refused by
// name before anything is stored or connected.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { Registry } from 'prom-client';
import type { PgBoss } from 'pg-boss';
import { InvalidOptionError } from '../../lib/core/errors.js';
import { registerClusterMetrics } from '../../lib/prometheus/index.js';
import { type BatchContext, Dispatcher } from '../../lib/core/index.js';
import {
  Cluster,
  type ClusterBatchItem,
  type ClusterOptions,
  type ClusterTaskContext,
  ClusterClaimLostError,
  ClusterConnectionError,
  ClusterNotRunningError,
  ClusterSubmitTimeoutError,
  ClusterUnavailableError,
  ClusterTaskFailedError,
  NotJsonError,
} from '../../lib/cluster/index.js';
import { type Deferred, deferred } from '../support/deferred.js';
import { cutOff, describeCluster, freshDatabase } from '../support/cluster.js';

describeCluster('cluster mode on one replica', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let admin: PgBoss;
  const running: Cluster[] = [];
  let prefixes = 0;

  beforeAll(async () => {
    db = await freshDatabase();
    const { PgBoss } = await import('pg-boss');
    admin = new PgBoss({ connectionString: db.url, supervise: false, schedule: false });
    admin.on('error', () => {});
    await admin.start();
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop(1_000)));
  });

  afterAll(async () => {
    await admin?.stop({ graceful: false });
    await db?.drop();
  });

  /** A cluster on its own queues (a fresh prefix per test), not yet started. */
  function cluster(
    options: Partial<ClusterOptions> = {},
    lanes = 4,
  ): { pool: Dispatcher; cluster: Cluster } {
    const pool = new Dispatcher({ lanes });
    const c = new Cluster(pool, {
      connectionString: db.url,
      queuePrefix: `t${++prefixes}`,
      shards: 2,
      pollIntervalMs: 50,
      // Tasks made to fail for good are reported there; anything else is worth seeing.
      onError: (e) => {
        if (!(e instanceof ClusterTaskFailedError)) console.error(e);
      },
      ...options,
    });
    running.push(c);
    return { pool, cluster: c };
  }

  it('enqueue resolves with the job id once stored; the handler runs it with its payload, session and ctx', async () => {
    const { cluster: c } = cluster();
    const seen: Deferred<[unknown, ClusterTaskContext]> = deferred();
    c.registerHandler('echo', (payload, ctx: ClusterTaskContext) => seen.resolve([payload, ctx]));
    await c.start();
    const id = await c.enqueue('echo', { text: 'hi', n: [1, 2] }, { sessionId: 'conv-1' });
    const [payload, ctx] = await seen.promise;
    expect(payload).toEqual({ text: 'hi', n: [1, 2] });
    expect(ctx.sessionId).toBe('conv-1');
    expect(ctx.attempt).toBe(1);
    expect(ctx.redelivered).toBe(false);
    expect(ctx.jobId).toBe(id);
  });

  it('a task this replica stores is fetched at once, not at the next poll of its shard (polls an hour apart)', async () => {
    const { PgBoss } = await import('pg-boss');
    const boss = new PgBoss({ connectionString: db.url, supervise: false, schedule: false });
    boss.on('error', () => {});
    await boss.start();
    try {
      // The signal that the shard's first fetch came back: from then on only a wake-up fetches.
      const firstFetch = deferred();
      const fetch = boss.fetch.bind(boss) as (...args: unknown[]) => Promise<unknown>;
      (boss as unknown as { fetch: unknown }).fetch = async (...args: unknown[]) => {
        const jobs = await fetch(...args);
        firstFetch.resolve();
        return jobs;
      };
      const { cluster: c } = cluster({
        connectionString: undefined,
        boss,
        shards: 1,
        pollIntervalMs: 3_600_000,
      });
      const ran = deferred<string>();
      c.registerHandler('t', (name: string) => ran.resolve(name));
      await c.start();
      await firstFetch.promise;
      await c.enqueue('t', 'stored-after-the-poll', { sessionId: 's' });
      const late = new Promise((resolve) =>
        setTimeout(resolve, 10_000, 'not run within 10 s').unref(),
      );
      expect(await Promise.race([ran.promise, late])).toBe('stored-after-the-poll');
      await c.stop();
    } finally {
      await boss.stop({ graceful: false });
    }
  });

  it('poolSize bounds the connections a replica opens: 4 shards fetching, storing and completing at once over poolSize 2', async () => {
    // Its own application_name, so its connections can be told from the test's.
    const name = `nwp_pool_${prefixes + 1}`;
    const { cluster: c } = cluster({
      connectionString: `${db.url}?application_name=${name}`,
      shards: 4,
      poolSize: 2,
    });
    let left = 200;
    const all = deferred();
    c.registerHandler('t', () => {
      if (--left === 0) all.resolve();
    });
    await c.start();
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => c.enqueue('t', i, { sessionId: `s${i}` })),
    );
    await all.promise;
    // A pg pool keeps its connections open a while once made: those made during the run.
    const { rows } = await admin
      .getDb()
      .executeSql('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [
        name,
      ]);
    expect(rows[0]).toEqual({ n: 2 });
  });

  it("a PgBoss on the app's own pg Pool (a db adapter) as cluster.boss: tasks are stored and run through that pool; submit(), which needs LISTEN, is refused by name before anything is stored", async () => {
    const appPool = new pg.Pool({ connectionString: db.url, max: 2 });
    const { PgBoss } = await import('pg-boss');
    const boss = new PgBoss({
      db: { executeSql: (text: string, values?: unknown[]) => appPool.query(text, values) },
      supervise: false,
      schedule: false,
    });
    boss.on('error', () => {});
    await boss.start();
    try {
      let queries = 0;
      const query = appPool.query.bind(appPool) as (...args: unknown[]) => unknown;
      (appPool as unknown as { query: unknown }).query = (...args: unknown[]) => {
        queries++;
        return query(...args);
      };
      const { cluster: c } = cluster({ connectionString: undefined, boss, shards: 1 });
      const ran = deferred<string>();
      c.registerHandler('t', (name: string) => ran.resolve(name));
      await c.start();
      await c.enqueue('t', 'through-the-app-pool', { sessionId: 's' });
      expect(await ran.promise).toBe('through-the-app-pool');
      expect(queries).toBeGreaterThan(0);
      const refused = await c.submit('t', 'x', { sessionId: 's' }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(InvalidOptionError);
      expect((refused as Error).message).toMatch(/"cluster\.boss".*LISTEN.*enqueue\(\)/);
      await c.stop();
      // The enqueued task only: the refused submit stored nothing.
      const { rows } = await admin
        .getDb()
        .executeSql('SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1', [c.queueName(0)]);
      expect(rows[0]).toEqual({ n: 1 });
    } finally {
      await boss.stop({ graceful: false });
      await appPool.end();
    }
  });

  it("a replica whose claim on a running task lapsed (another replica took the job) aborts its handler's ctx.signal with ClusterClaimLostError at its next heartbeat, and writes no outcome over the other replica's", async () => {
    const { cluster: c } = cluster({ heartbeatSeconds: 10, shards: 1 });
    const started = deferred<string>();
    const aborted = deferred<unknown>();
    c.registerHandler('hold', async (_: null, ctx: ClusterTaskContext) => {
      started.resolve(ctx.jobId!);
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      aborted.resolve(ctx.signal.reason);
    });
    await c.start();
    await c.enqueue('hold', null, { sessionId: 's' });
    const id = await started.promise;
    // What another replica's fetch does to a job whose heartbeat lapsed: a new attempt, ours fenced off.
    await admin
      .getDb()
      .executeSql('UPDATE pgboss.job SET retry_count = retry_count + 1 WHERE id = $1', [id]);
    // A heartbeat comes every heartbeatSeconds / 2 = 5 s.
    const late = new Promise((resolve) =>
      setTimeout(resolve, 10_000, 'not aborted in 10 s').unref(),
    );
    const reason = await Promise.race([aborted.promise, late]);
    expect(reason).toBeInstanceOf(ClusterClaimLostError);
    expect((reason as Error).message).toMatch(
      new RegExp(`job ${id}\\) is no longer held by this replica.*cluster\\.heartbeatSeconds`),
    );
    await c.stop(1_000);
    const [job] = await admin.findJobs(c.queueName(0), { id });
    expect(job).toMatchObject({ state: 'active', retryCount: 1 });
    expect(c.stats()).toMatchObject({ completed: 0, failed: 0 });
  }, 30_000);

  it('a failed attempt is retried by the queue: ctx.attempt counts on, redelivered stays false, and the session waits for it', async () => {
    const { cluster: c } = cluster({ retry: { limit: 2 } });
    const runs: string[] = [];
    const done = deferred();
    c.registerHandler('step', (seq: number, ctx: ClusterTaskContext) => {
      runs.push(`${seq}#${ctx.attempt}${ctx.redelivered ? 'r' : ''}`);
      if (seq === 0 && ctx.attempt < 3) throw new Error('flaky');
      if (seq === 2) done.resolve();
    });
    await c.start();
    for (let seq = 0; seq < 3; seq++) await c.enqueue('step', seq, { sessionId: 's' });
    await done.promise;
    expect(runs).toEqual(['0#1', '0#2', '0#3', '1#1', '2#1']);
  });

  it("onFailure 'block': a task failed for good holds its session (getBlockedKeys), other sessions go on", async () => {
    const errors: unknown[] = [];
    const { cluster: c } = cluster({
      retry: { limit: 0 },
      onFailure: 'block',
      shards: 1,
      onError: (e) => errors.push(e),
    });
    const ran: string[] = [];
    const other = deferred();
    c.registerHandler('t', (name: string) => {
      ran.push(name);
      if (name === 'poison') throw new Error('poison');
      if (name === 'other') other.resolve();
    });
    await c.start();
    await c.enqueue('t', 'poison', { sessionId: 'a' });
    await c.enqueue('t', 'after-poison', { sessionId: 'a' });
    await c.enqueue('t', 'other', { sessionId: 'b' });
    await other.promise;
    await c.stop(); // every outcome written
    expect(ran.sort()).toEqual(['other', 'poison']);
    // Nobody awaited it: its failure is reported once, through onError.
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ClusterTaskFailedError);
    expect((errors[0] as Error).message).toMatch(
      /"t" .*failed on its last attempt \(1 in all.*Error: poison/,
    );
    expect(await admin.getBlockedKeys(c.queueName(0))).toEqual(['s:a']);
    // The session's next task is still there, and no fetch hands it out.
    expect(await admin.fetch(c.queueName(0), { batchSize: 10 })).toEqual([]);
    const waiting = await admin.findJobs<{ p: string }>(c.queueName(0), { key: 's:a' });
    expect(waiting.map((j) => [j.data.p, j.state]).sort()).toEqual([
      ['after-poison', 'created'],
      ['poison', 'failed'],
    ]);
  });

  it("onFailure 'dead-letter': a task failed for good goes to <prefix>.dead and its session goes on", async () => {
    const { cluster: c } = cluster({ retry: { limit: 1 }, onFailure: 'dead-letter', shards: 1 });
    const ran: string[] = [];
    const next = deferred();
    c.registerHandler('t', (name: string, ctx: ClusterTaskContext) => {
      ran.push(`${name}#${ctx.attempt}`);
      if (name === 'poison') throw new Error('poison');
      next.resolve();
    });
    await c.start();
    await c.enqueue('t', 'poison', { sessionId: 'a' });
    await c.enqueue('t', 'next', { sessionId: 'a' });
    await next.promise;
    expect(ran).toEqual(['poison#1', 'poison#2', 'next#1']);
    const dead = await admin.fetch<{ t: string; p: unknown }>(c.deadLetterQueue, { batchSize: 5 });
    expect(dead.map((j) => j.data.p)).toEqual(['poison']);
  });

  it('a payload that is not JSON is refused at enqueue with NotJsonError naming where, and nothing is stored', async () => {
    const { cluster: c } = cluster({ shards: 1 });
    c.registerHandler('t', () => {});
    await c.start();
    const error = await c
      .enqueue('t', { user: { at: new Date(0) } }, { sessionId: 's' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotJsonError);
    expect((error as NotJsonError).code).toBe('NOT_JSON');
    expect((error as NotJsonError).path).toBe('payload.user.at');
    expect((error as Error).message).toMatch(/payload\.user\.at is a Date.*toISOString/);
    await expect(c.enqueue('t', [1, undefined])).rejects.toThrow(/payload\[1\] is undefined/);
    await expect(c.enqueue('t', { n: 10n })).rejects.toThrow(/payload\.n is the bigint 10n/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(c.enqueue('t', cyclic)).rejects.toThrow(/payload\.self is a circular reference/);
    expect((await admin.getQueue(c.queueName(0)))?.totalCount ?? 0).toBe(0);
  });

  it('a wrong connection string fails start() with ClusterConnectionError naming the server and the option, password hidden', async () => {
    const { cluster: c } = cluster({
      connectionString: 'postgres://postgres:secret@127.0.0.1:5432/nwp_no_such_database',
    });
    const error = await c.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClusterConnectionError);
    const message = (error as Error).message;
    expect(message).toMatch(/nwp_no_such_database/);
    expect(message).toMatch(/does not exist/);
    expect(message).toMatch(/cluster\.connectionString/);
    expect(message).not.toMatch(/secret/);
    // Nothing listens on port 1.
    const { cluster: c2 } = cluster({ connectionString: 'postgres://postgres@127.0.0.1:1/x' });
    await expect(c2.start()).rejects.toThrow(
      /Cluster mode could not start on postgres:\/\/postgres@127\.0\.0\.1:1\/x: .*ECONNREFUSED/,
    );
  });

  it('submit() resolves with the result, wherever it ran: two replicas on the same queues, 30 submits over 3 sessions', async () => {
    const prefix = `t${++prefixes}`;
    const ran = { a: 0, b: 0 };
    const make = (name: 'a' | 'b') => {
      const { cluster: c } = cluster({ queuePrefix: prefix });
      c.registerHandler('double', (n: number) => {
        ran[name]++;
        return { n, doubled: n * 2 };
      });
      return c;
    };
    const a = make('a');
    const b = make('b');
    await Promise.all([a.start(), b.start()]);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, n) =>
        a.submit<{ n: number; doubled: number }>('double', n, { sessionId: `s${n % 3}` }),
      ),
    );
    process.stderr.write(`submit: ran on the submitter ${ran.a}, on the other replica ${ran.b}\n`);
    expect(results).toEqual(Array.from({ length: 30 }, (_, n) => ({ n, doubled: n * 2 })));
    expect(ran.a + ran.b).toBe(30);
  });

  it('submit() of a result too large for NOTIFY (20 kB) reads it from the job', async () => {
    const { cluster: c } = cluster();
    c.registerHandler('big', (n: number) => 'x'.repeat(n));
    await c.start();
    expect(await c.submit<string>('big', 20_000)).toHaveLength(20_000);
  });

  it('submit() rejects with ClusterTaskFailedError after the last attempt, naming the remote error and the attempts', async () => {
    const { cluster: c } = cluster({ retry: { limit: 1 } });
    const attempts: number[] = [];
    c.registerHandler('fails', (_: null, ctx: ClusterTaskContext) => {
      attempts.push(ctx.attempt);
      throw Object.assign(new TypeError('no such user'), { code: 'E_USER' });
    });
    await c.start();
    const error = (await c
      .submit('fails', null, { sessionId: 's' })
      .catch((e: unknown) => e)) as ClusterTaskFailedError;
    expect(error).toBeInstanceOf(ClusterTaskFailedError);
    expect(error).toMatchObject({ remoteName: 'TypeError', remoteCode: 'E_USER', attempts: 2 });
    expect(error.message).toMatch(/"fails".*2 in all.*TypeError: no such user/);
    expect(attempts).toEqual([1, 2]);
  });

  it('a result that is not JSON fails the task with NotJsonError as its error, delivered to the submitter', async () => {
    const { cluster: c } = cluster({ retry: { limit: 0 } });
    c.registerHandler('dated', () => ({ at: new Date(0) }));
    await c.start();
    const error = (await c
      .submit('dated', null)
      .catch((e: unknown) => e)) as ClusterTaskFailedError;
    expect(error).toBeInstanceOf(ClusterTaskFailedError);
    expect(error.remoteName).toBe('NotJsonError');
    expect(error.remoteMessage).toMatch(/result of task "dated" is not JSON: result\.at is a Date/);
  });

  it('submit() rejects with ClusterSubmitTimeoutError when no result comes in time; the task still runs', async () => {
    const { cluster: c } = cluster();
    const release = deferred();
    const finished = deferred();
    c.registerHandler('slow', async () => {
      await release.promise;
      finished.resolve();
      return 1;
    });
    await c.start();
    const error = await c.submit('slow', null, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClusterSubmitTimeoutError);
    expect((error as Error).message).toMatch(/within 100 ms \(cluster\.submitTimeoutMs/);
    release.resolve();
    await finished.promise;
  });

  it("registerClusterMetrics scrapes a real cluster: a session blocked by a failed task, the task waiting behind it, this replica's counts, then database_up 0 once the database is cut off", async () => {
    const own = await freshDatabase();
    const { cluster: c } = cluster({
      connectionString: own.url,
      retry: { limit: 0 },
      shards: 1,
      onError: () => {},
    });
    c.registerHandler('t', (name: string) => {
      if (name === 'poison') throw new Error('poison');
    });
    try {
      await c.start();
      const registry = new Registry();
      registerClusterMetrics(c, { registry, pool: 'chat' });
      // submit() settles once the failure is written.
      await c.submit('t', 'poison', { sessionId: 'a' }).catch(() => {});
      await c.enqueue('t', 'behind-poison', { sessionId: 'a' });
      const text = await registry.metrics();
      expect(text).toContain('worker_pool_cluster_database_up{pool="chat"} 1');
      expect(text).toContain('worker_pool_cluster_blocked_sessions{pool="chat"} 1');
      expect(text).toContain('worker_pool_cluster_queued_tasks{pool="chat"} 1');
      expect(text).toContain('worker_pool_cluster_jobs_total{pool="chat",outcome="failed"} 1');
      expect(text).toContain('worker_pool_cluster_replicas{pool="chat"} 1');
      const reopen = await cutOff(own.name);
      await new Promise((resolve) => setImmediate(resolve));
      const down = await registry.metrics();
      await reopen();
      expect(down).toContain('worker_pool_cluster_database_up{pool="chat"} 0');
      expect(down).not.toMatch(/worker_pool_cluster_queued_tasks\{/);
    } finally {
      await c.stop(1_000);
      await own.drop();
    }
  });

  it('a blocked session is listed by clusterStats(); retrySession runs its failed task again, skipSession drops it, then its next task runs', async () => {
    const { cluster: c } = cluster({ retry: { limit: 0 }, shards: 2 });
    let poisonous = true;
    const runs: string[] = [];
    const after = new Map([
      ['after-a', deferred()],
      ['after-b', deferred()],
    ]);
    c.registerHandler('t', (name: string, ctx: ClusterTaskContext) => {
      runs.push(`${name}#${ctx.attempt}`);
      if (name.startsWith('poison') && poisonous) throw new Error('poison');
      after.get(name)?.resolve();
    });
    await c.start();
    // submit() settles once the failure is written: a signal, no polling.
    const failedA = c.submit('t', 'poison-a', { sessionId: 'a' }).catch((e: unknown) => e);
    const failedB = c.submit('t', 'poison-b', { sessionId: 'b' }).catch((e: unknown) => e);
    await c.enqueue('t', 'after-a', { sessionId: 'a' });
    await c.enqueue('t', 'after-b', { sessionId: 'b' });
    expect(await failedA).toBeInstanceOf(ClusterTaskFailedError);
    expect(await failedB).toBeInstanceOf(ClusterTaskFailedError);
    const stats = await c.clusterStats();
    expect(stats).toMatchObject({ blockedSessions: ['a', 'b'], queued: 2, active: 0, replicas: 1 });
    expect(stats.oldestWaitMs).toBeGreaterThanOrEqual(0);
    expect(await c.skipSession('no-such-session')).toBe(false);

    poisonous = false;
    expect(await c.retrySession('a')).toBe(true);
    await after.get('after-a')!.promise;
    expect(await c.skipSession('b')).toBe(true);
    await after.get('after-b')!.promise;
    expect(runs.filter((r) => r.includes('-a'))).toEqual(['poison-a#1', 'poison-a#2', 'after-a#1']);
    expect(runs.filter((r) => r.includes('-b'))).toEqual(['poison-b#1', 'after-b#1']);
    expect((await c.clusterStats()).blockedSessions).toEqual([]);
  });

  it('calls for one session on one replica are stored in call order, even when not awaited one by one', async () => {
    const { cluster: c } = cluster();
    const seen: number[] = [];
    const last = deferred();
    c.registerHandler('t', (n: number) => {
      seen.push(n);
      if (n === 59) last.resolve();
    });
    await c.start();
    const calls: Promise<unknown>[] = [];
    for (let n = 0; n < 60; n++) {
      calls.push(
        n % 3 === 0 ? c.submit('t', n, { sessionId: 's' }) : c.enqueue('t', n, { sessionId: 's' }),
      );
    }
    await Promise.all(calls);
    await last.promise;
    expect(seen).toEqual(Array.from({ length: 60 }, (_, n) => n));
  });

  it('the database cut off mid-run: nothing is lost once enqueue resolved; the task whose outcome could not be written runs again (redelivered), then its session goes on', async () => {
    const own = await freshDatabase();
    const errors: unknown[] = [];
    // Resolved once a's outcome has failed to be written: reopening any earlier would race
    // that write (it could land after the database is back, and a would not run again).
    const writeFailed = deferred();
    const pool = new Dispatcher({ lanes: 2 });
    const c: Cluster = new Cluster(pool, {
      connectionString: own.url,
      pollIntervalMs: 50,
      heartbeatSeconds: 10,
      monitorIntervalSeconds: 1,
      onError: (e) => {
        errors.push(e);
        if (c.stats().writeErrors > 0) writeFailed.resolve();
      },
    });
    running.push(c);
    const runs: string[] = [];
    const aStarted = deferred();
    const releaseA = deferred();
    const done = new Map([
      ['b', deferred()],
      ['c', deferred()],
    ]);
    c.registerHandler('t', async (name: string, ctx: ClusterTaskContext) => {
      runs.push(`${name}#${ctx.attempt}${ctx.redelivered ? 'r' : ''}`);
      if (name === 'a' && ctx.attempt === 1) {
        aStarted.resolve();
        await releaseA.promise;
      }
      done.get(name)?.resolve();
    });
    try {
      await c.start();
      await c.enqueue('t', 'a', { sessionId: 's' });
      await c.enqueue('t', 'b', { sessionId: 's' });
      await aStarted.promise;
      const reopen = await cutOff(own.name);
      await c.enqueue('t', 'c', { sessionId: 'other' }).then(
        () => {
          throw new Error('enqueue resolved while the database was cut off');
        },
        () => undefined,
      );
      // a finishes, but its outcome cannot be written: the job stays active, its heartbeat lapses.
      releaseA.resolve();
      await writeFailed.promise;
      await reopen();
      await c.enqueue('t', 'c', { sessionId: 'other' });
      await done.get('b')!.promise;
      await done.get('c')!.promise;
      expect(runs.filter((r) => r !== 'c#1')).toEqual(['a#1', 'a#2r', 'b#1']);
      expect(runs).toContain('c#1');
      expect(c.stats().writeErrors).toBeGreaterThan(0);
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      await c.stop(1_000);
      await own.drop();
    }
  }, 60_000);

  it('enqueue and submit while the database is down reject with ClusterUnavailableError naming the option and what to check; once it is back they store again', async () => {
    const own = await freshDatabase();
    const { cluster: c } = cluster({ connectionString: own.url, onError: () => {} });
    const ran = deferred<string>();
    c.registerHandler('t', (name: string) => ran.resolve(name));
    try {
      await c.start();
      const reopen = await cutOff(own.name);
      const enqueued = await c.enqueue('t', 'a', { sessionId: 's' }).catch((e: unknown) => e);
      const submitted = await c.submit('t', 'b', { sessionId: 's' }).catch((e: unknown) => e);
      for (const error of [enqueued, submitted]) {
        expect(error).toBeInstanceOf(ClusterUnavailableError);
        expect(error).toMatchObject({ code: 'CLUSTER_UNAVAILABLE', type: 't' });
        expect((error as Error).message).toMatch(
          new RegExp(
            `^Task "t" was not stored: the cluster's database did not take it \\(.+\\)\\. ` +
              `Check that PostgreSQL is running and accepts connections at postgres://postgres@127\\.0\\.0\\.1:\\d+/${own.name} \\(cluster\\.connectionString\\)`,
          ),
        );
        expect((error as Error).cause).toBeInstanceOf(Error);
      }
      await reopen();
      await c.enqueue('t', 'c', { sessionId: 's' });
      expect(await ran.promise).toBe('c');
      // A submit refused while the database was down does not keep later ones from listening.
      expect(await c.submit('t', 'd', { sessionId: 's' })).toBeUndefined();
    } finally {
      await c.stop(1_000);
      await own.drop();
    }
  });

  it('start() twice returns one start; stop() during start() waits for it and fetches nothing; stop() twice returns one stop, which ends; start() after stop() is refused by name', async () => {
    const prefix = `t${++prefixes}`;
    // A task waiting in the queue before the pool starts: a pool stopped while it starts must not take it.
    await admin.createQueue(`${prefix}.0`, { policy: 'key_strict_fifo' });
    const waiting = await admin.send(
      `${prefix}.0`,
      { t: 't', s: 'w', p: 'waiting' },
      { singletonKey: 's:w' },
    );
    const ran: string[] = [];
    const { cluster: early } = cluster({ queuePrefix: prefix, shards: 1 });
    early.registerHandler('t', (name: string) => void ran.push(name));
    const starting = early.start();
    expect(early.start()).toBe(starting);
    const stopping = early.stop();
    await expect(starting).resolves.toBeUndefined();
    await stopping;
    expect(early.stats().fetches).toBe(0);
    await expect(early.enqueue('t', 'late')).rejects.toBeInstanceOf(ClusterNotRunningError);
    await expect(early.start()).rejects.toThrow(/stopped: a stopped Cluster does not start again/);
    expect(await admin.getJobById(`${prefix}.0`, waiting!)).toMatchObject({
      state: 'created',
      retryCount: 0,
    });

    // Two starts at once: the second resolves only when the first does, running.
    const { cluster: c } = cluster({ queuePrefix: prefix, shards: 1 });
    const started = deferred();
    const release = deferred();
    const secondRan = deferred();
    c.registerHandler('t', async (name: string) => {
      ran.push(name);
      if (name === 'second') secondRan.resolve();
      if (name !== 'waiting') return;
      started.resolve();
      await release.promise;
    });
    await Promise.all([
      c.start(),
      c.start().then(() => c.enqueue('t', 'second', { sessionId: 'x' })),
    ]);
    await started.promise;
    await secondRan.promise;
    // Two stops while a task is held: both end, with one report, once the task has.
    const first = c.stop();
    const second = c.stop(60_000);
    expect(second).toBe(first);
    release.resolve();
    const [a, b] = await Promise.all([first, second]);
    expect(a).toBe(b);
    expect(ran.sort()).toEqual(['second', 'waiting']);
    expect(await admin.getJobById(`${prefix}.0`, waiting!)).toMatchObject({ state: 'completed' });
  });

  it('a task whose type has no handler on the replica that fetched it is not completed: it fails there with UnknownTaskTypeError into the failure policy (its session blocks), and runs once a replica with the handler retries it', async () => {
    const prefix = `t${++prefixes}`;
    const reported = deferred<unknown>();
    const ranOnA = deferred();
    const { cluster: a } = cluster({
      queuePrefix: prefix,
      shards: 1,
      retry: { limit: 0 },
      onError: (e) => reported.resolve(e),
    });
    // Replica a knows 'known' only (an older deploy, say); b knows both.
    a.registerHandler('known', () => ranOnA.resolve());
    await a.start();
    await a.enqueue('greet', 'ada', { sessionId: 's' });
    await a.enqueue('known', null, { sessionId: 's' });
    // Silently completing 'greet' would let the session go on to 'known' on a.
    const error = await Promise.race([
      reported.promise,
      ranOnA.promise.then(() => {
        throw new Error('"greet" was completed without a handler: its session went on');
      }),
    ]);
    expect(error).toBeInstanceOf(ClusterTaskFailedError);
    expect(error).toMatchObject({ type: 'greet', remoteName: 'UnknownTaskTypeError', attempts: 1 });
    expect((error as Error).message).toMatch(
      /No handler is registered for task type "greet"\. Known types: "known"/,
    );
    await a.stop();
    expect(await admin.getBlockedKeys(a.queueName(0))).toEqual(['s:s']);

    const { cluster: b } = cluster({ queuePrefix: prefix, shards: 1, retry: { limit: 0 } });
    const greeted = deferred<[string, number]>();
    const known = deferred();
    b.registerHandler('greet', (name: string, ctx: ClusterTaskContext) =>
      greeted.resolve([name, ctx.attempt]),
    );
    b.registerHandler('known', () => known.resolve());
    await b.start();
    expect(await b.retrySession('s')).toBe(true);
    expect(await greeted.promise).toEqual(['ada', 2]);
    await known.promise;
  });

  describe('batch handlers', () => {
    // maxSize 3 with a wait far longer than a fetch: a batch starts when full, and it holds at
    // most one task per session, so with 3 sessions each call is exactly one item of each. A
    // wrong count of runs shows as a short last call 10 s later, not as a test that hangs.
    const FULL_OF_3 = { batch: { maxSize: 3, maxWaitMs: 10_000 } };
    const sorted = (calls: string[][]) => calls.map((call) => [...call].sort());

    it("gets several sessions' items in one call as their payloads, each with its own ClusterTaskContext, each session in order; submit() gets its own item's result", async () => {
      const { cluster: c } = cluster({ shards: 1 }, 1);
      const calls: string[][] = [];
      const ctxs = new Map<string, ClusterTaskContext>();
      const ranAll = deferred();
      c.registerHandler(
        'write',
        (items: ClusterBatchItem<string>[], ctx: BatchContext) => {
          expect(ctx).toMatchObject({ type: 'write', size: items.length });
          calls.push(items.map((i) => i.payload));
          for (const i of items) ctxs.set(i.payload, i.ctx);
          if (calls.flat().length === 9) ranAll.resolve();
          return items.map((i) => `${i.payload}@${i.ctx.jobId}`);
        },
        FULL_OF_3,
      );
      await c.start();
      // Sessions a and b await their results; c's tasks are enqueued. Not awaited one by one.
      const submitted: Promise<string>[] = [];
      const enqueued: Promise<string>[] = [];
      for (let n = 0; n < 3; n++) {
        submitted.push(c.submit<string>('write', `a${n}`, { sessionId: 'a' }));
        submitted.push(c.submit<string>('write', `b${n}`, { sessionId: 'b' }));
        enqueued.push(c.enqueue('write', `c${n}`, { sessionId: 'c' }));
      }
      const results = await Promise.all(submitted);
      const ids = await Promise.all(enqueued);
      await ranAll.promise;
      expect(sorted(calls)).toEqual([
        ['a0', 'b0', 'c0'],
        ['a1', 'b1', 'c1'],
        ['a2', 'b2', 'c2'],
      ]);
      // Each submit got the result of its own item, not of another one in its batch.
      expect(results).toEqual(
        ['a0', 'b0', 'a1', 'b1', 'a2', 'b2'].map((p) => `${p}@${ctxs.get(p)!.jobId}`),
      );
      expect(ctxs.get('b1')).toMatchObject({
        type: 'write',
        sessionId: 'b',
        attempt: 1,
        redelivered: false,
      });
      expect(['c0', 'c1', 'c2'].map((p) => ctxs.get(p)!.jobId)).toEqual(ids);
      await c.stop(); // every outcome written
      const jobs = await admin.findJobs(c.queueName(0));
      expect(jobs.map((j) => [j.state, j.retryCount])).toEqual(
        Array.from({ length: 9 }, () => ['completed', 0]),
      );
    });

    it('an item failed with item.fail() fails only its own job: the queue retries it (in its session, before its next task), the others complete once', async () => {
      const { cluster: c } = cluster({ shards: 1, retry: { limit: 1 } }, 1);
      const calls: string[][] = [];
      c.registerHandler(
        'write',
        (items: ClusterBatchItem<string>[]) => {
          calls.push(items.map((i) => `${i.payload}#${i.ctx.attempt}`));
          return items.map((i) => {
            if (i.payload === 'a0' && i.ctx.attempt === 1) i.fail(new Error('a0: row refused'));
            return i.payload.toUpperCase();
          });
        },
        FULL_OF_3,
      );
      await c.start();
      // a's first task runs twice: 3 runs for each session, so every batch fills.
      const tasks = [
        ['a', 'a0'],
        ['a', 'a1'],
        ...['b', 'c'].flatMap((s) => [0, 1, 2].map((n) => [s, `${s}${n}`])),
      ];
      const results = await Promise.all(
        tasks.map(([s, p]) => c.submit<string>('write', p, { sessionId: s })),
      );
      expect(results).toEqual(tasks.map(([, p]) => p!.toUpperCase()));
      expect(sorted(calls)).toEqual([
        ['a0#1', 'b0#1', 'c0#1'],
        ['a0#2', 'b1#1', 'c1#1'],
        ['a1#1', 'b2#1', 'c2#1'],
      ]);
      await c.stop();
      const jobs = await admin.findJobs<{ p: string }>(c.queueName(0));
      expect(jobs.map((j) => [j.data.p, j.state, j.retryCount]).sort()).toEqual(
        tasks.map(([, p]) => [p, 'completed', p === 'a0' ? 1 : 0]).sort(),
      );
    });

    it('a result that is not JSON fails only its own item, with NotJsonError, into the failure policy', async () => {
      const { cluster: c } = cluster({ shards: 1, retry: { limit: 0 } }, 1);
      c.registerHandler(
        'write',
        (items: ClusterBatchItem<string>[]) =>
          items.map((i) => (i.payload === 'b' ? { at: new Date(0) } : i.payload)),
        FULL_OF_3,
      );
      await c.start();
      const [a, b, cc] = await Promise.allSettled(
        ['a', 'b', 'c'].map((s) => c.submit('write', s, { sessionId: s })),
      );
      expect(a).toEqual({ status: 'fulfilled', value: 'a' });
      expect(cc).toEqual({ status: 'fulfilled', value: 'c' });
      const error = (b as PromiseRejectedResult).reason as ClusterTaskFailedError;
      expect(error).toBeInstanceOf(ClusterTaskFailedError);
      expect(error.remoteName).toBe('NotJsonError');
      expect(error.remoteMessage).toMatch(
        /result of task "write" is not JSON: result\.at is a Date/,
      );
      await c.stop();
      expect(await admin.getBlockedKeys(c.queueName(0))).toEqual(['s:b']);
    });
  });
});

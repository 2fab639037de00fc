// The per-session contract across replica processes (each a Node process with its own pool in
// cluster mode, on one PostgreSQL): every task runs, each session's tasks in enqueue order and
// never two at once, whichever replica runs them; a replica stopped with SIGTERM finishes what
// it holds, so nothing runs twice; one SIGKILLed mid-run has its tasks run again elsewhere
// (redelivered), and only those.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, expect, it } from '@jest/globals';
import pg from 'pg';
import type { ReplicaCommand, ReplicaMessage } from '../fixtures/cluster/replica.js';
import { type Deferred, deferred } from '../support/deferred.js';
import { describeCluster, freshDatabase } from '../support/cluster.js';

const REPLICA = fileURLToPath(
  new URL('../../dist/test/fixtures/cluster/replica.js', import.meta.url),
);

interface Run {
  s: string;
  seq: number;
  replica: number;
  attempt: number;
  redelivered: boolean;
  overlap: boolean;
}

class Replica {
  readonly child: ChildProcess;
  readonly ready = deferred();
  enqueued: Deferred<number> = deferred<number>();
  readonly stopped = deferred<{ held: number; completed: number }>();
  readonly stalled = deferred();
  readonly exited = deferred<number | null>();
  readonly errors: string[] = [];

  constructor(
    readonly id: number,
    url: string,
    onRan: (s: string, seq: number) => void,
    env: Record<string, string> = {},
  ) {
    this.child = fork(REPLICA, [], {
      // process.execPath: the Node this suite runs on (22+).
      env: { ...process.env, NWP_DB: url, NWP_REPLICA: String(id), ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: ReplicaMessage) => {
      if (m.kind === 'ready') this.ready.resolve();
      else if (m.kind === 'enqueued') this.enqueued.resolve(m.count);
      else if (m.kind === 'ran') onRan(m.s, m.seq);
      else if (m.kind === 'stopped') this.stopped.resolve(m);
      else if (m.kind === 'stalled') this.stalled.resolve();
      else if (m.kind === 'error') this.errors.push(m.message);
    });
    this.child.on('exit', (code) => {
      this.exited.resolve(code);
      this.ready.reject(new Error(`replica ${id} exited (${code}) before it was ready`));
    });
  }

  command(c: ReplicaCommand): void {
    this.child.send(c);
  }
}

describeCluster('cluster mode across replica processes', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: pg.Pool;
  let replicas: Replica[] = [];

  beforeAll(async () => {
    db = await freshDatabase();
    sql = new pg.Pool({ connectionString: db.url, max: 2 });
    // Install pg-boss's schema once, so replicas starting together do not race to do it.
    const { PgBoss } = await import('pg-boss');
    const boss = new PgBoss({ connectionString: db.url, supervise: false, schedule: false });
    boss.on('error', () => {});
    await boss.start();
    await boss.stop({ graceful: false });
  });

  // What the last test's replicas ran, printed after it: a test that times out says how far it got.
  let progress: (() => string) | undefined;

  afterEach(async () => {
    if (progress !== undefined)
      process.stderr.write(`${expect.getState().currentTestName}: ${progress()}\n`);
    progress = undefined;
    for (const r of replicas) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited.promise));
    replicas = [];
  });

  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  /** Fresh tables and queues; replicas started and ready; resolves when `expected` distinct tasks ran. */
  async function start(
    count: number,
    expected: number,
    env: Record<string, string>,
    prefix: string,
    more: object = {},
  ): Promise<{ allRan: Promise<void>; reached: (n: number) => Promise<void> }> {
    await sql.query('DROP TABLE IF EXISTS runs, running, dead');
    await sql.query('CREATE TABLE running (s text PRIMARY KEY, replica int)');
    await sql.query('CREATE TABLE dead (replica int)');
    await sql.query(
      'CREATE TABLE runs (id bigserial PRIMARY KEY, s text, seq int, replica int, attempt int, redelivered bool, overlap bool)',
    );
    const distinct = new Set<string>();
    const began = Date.now();
    progress = () => `${distinct.size} of ${expected} tasks ran in ${Date.now() - began} ms`;
    const waiters: Array<{ n: number; reached: Deferred }> = [];
    const reached = (n: number) => {
      const waiter = { n, reached: deferred() };
      waiters.push(waiter);
      return waiter.reached.promise;
    };
    const allRan = reached(expected);
    const onRan = (s: string, seq: number) => {
      distinct.add(`${s}/${seq}`);
      for (const w of waiters) if (distinct.size >= w.n) w.reached.resolve();
    };
    const options = {
      shards: 3,
      pollIntervalMs: 50,
      fetchBatchSize: 20,
      queuePrefix: prefix,
      ...more,
    };
    for (let i = 0; i < count; i++) {
      replicas.push(
        new Replica(i, db.url, onRan, { NWP_CLUSTER: JSON.stringify(options), ...env }),
      );
    }
    await Promise.all(replicas.map((r) => r.ready.promise));
    return { allRan, reached };
  }

  /** Each replica enqueues its share of the sessions (session i by replica i % count). */
  async function enqueue(sessions: number, tasks: number): Promise<void> {
    replicas.forEach((r) =>
      r.command({
        kind: 'enqueue',
        sessions: Array.from({ length: sessions }, (_, i) => `s${i}`).filter(
          (_, i) => i % replicas.length === r.id,
        ),
        tasks,
      }),
    );
    await Promise.all(replicas.map((r) => r.enqueued.promise));
  }

  async function runs(): Promise<Run[]> {
    const { rows } = await sql.query<Run>(
      'SELECT s, seq, replica, attempt, redelivered, overlap FROM runs ORDER BY id',
    );
    return rows;
  }

  /** Order violations: per session, the seqs in start order must be 0, 1, 2, ... */
  function check(all: Run[], sessions: number, tasks: number) {
    const bySession = new Map<string, number[]>();
    for (const r of all) {
      const list = bySession.get(r.s) ?? [];
      list.push(r.seq);
      bySession.set(r.s, list);
    }
    let orderViolations = 0;
    let lost = 0;
    for (let i = 0; i < sessions; i++) {
      const seqs = bySession.get(`s${i}`) ?? [];
      for (let k = 1; k < seqs.length; k++) if (seqs[k]! < seqs[k - 1]!) orderViolations++;
      lost += tasks - new Set(seqs).size;
    }
    const seen = new Set<string>();
    let duplicates = 0;
    for (const r of all) {
      const key = `${r.s}/${r.seq}`;
      if (seen.has(key)) duplicates++;
      seen.add(key);
    }
    const perReplica = new Map<number, number>();
    for (const r of all) perReplica.set(r.replica, (perReplica.get(r.replica) ?? 0) + 1);
    return {
      orderViolations,
      overlaps: all.filter((r) => r.overlap).length,
      lost,
      duplicates,
      perReplica: [...perReplica.entries()].sort((a, b) => a[0] - b[0]),
    };
  }

  it('3 replicas, 50 sessions x 10 tasks enqueued through all of them: 0 order violations, 0 overlaps, 0 lost, none twice', async () => {
    const { allRan } = await start(3, 500, { NWP_WORK_MS: '2' }, 'order');
    await enqueue(50, 10);
    await allRan;
    replicas.forEach((r) => r.command({ kind: 'stop' }));
    const stopped = await Promise.all(replicas.map((r) => r.stopped.promise));
    const result = check(await runs(), 50, 10);
    process.stderr.write(`replicas: ${JSON.stringify(result)}\n`);
    expect(result).toMatchObject({ orderViolations: 0, overlaps: 0, lost: 0, duplicates: 0 });
    expect(stopped.map((s) => s.held)).toEqual([0, 0, 0]);
    expect(stopped.reduce((n, s) => n + s.completed, 0)).toBe(500);
    expect(replicas.flatMap((r) => r.errors)).toEqual([]);
    expect(await Promise.all(replicas.map((r) => r.exited.promise))).toEqual([0, 0, 0]);
  }, 120_000);

  it('a replica stopped with SIGTERM mid-run finishes what it holds: nothing runs twice, nothing is lost, order kept', async () => {
    const { allRan, reached } = await start(3, 500, { NWP_WORK_MS: '10' }, 'sigterm');
    const third = reached(150);
    await enqueue(50, 10);
    await third;
    replicas[0]!.child.kill('SIGTERM');
    const stopped = await replicas[0]!.stopped.promise;
    expect(await replicas[0]!.exited.promise).toBe(0);
    await allRan;
    replicas.slice(1).forEach((r) => r.command({ kind: 'stop' }));
    await Promise.all(replicas.map((r) => r.exited.promise));
    const all = await runs();
    const result = check(all, 50, 10);
    process.stderr.write(
      `sigterm: ${JSON.stringify(result)}; replica 0 completed ${stopped.completed}\n`,
    );
    expect(result).toMatchObject({ orderViolations: 0, overlaps: 0, lost: 0, duplicates: 0 });
    expect(stopped.held).toBe(0);
    // The stopped replica did part of the work, and every task ran on its first attempt.
    expect(stopped.completed).toBeGreaterThan(0);
    expect(all.every((r) => r.attempt === 1 && !r.redelivered)).toBe(true);
  }, 120_000);

  it('a replica SIGKILLed mid-run: its tasks run again elsewhere (ctx.redelivered, attempt 2) once its heartbeat lapses; only those run twice, order kept, none lost', async () => {
    const killedAt = deferred<number>();
    const { allRan } = await start(3, 500, { NWP_WORK_MS: '10' }, 'sigkill', {
      heartbeatSeconds: 10,
      monitorIntervalSeconds: 1,
    });
    // Replica 0 hangs in its handlers after 20 runs: killed then, it surely holds tasks it started.
    const victim = replicas[0]!;
    victim.command({ kind: 'stall-after', runs: 20 });
    await enqueue(50, 10);
    await victim.stalled.promise;
    victim.child.kill('SIGKILL');
    expect(await replicas[0]!.exited.promise).toBe(null);
    killedAt.resolve(Date.now());
    // Its handlers died with it: their claims on their sessions are void (else the reruns would
    // count as overlaps), even one a statement sent before the kill commits later.
    await sql.query('INSERT INTO dead VALUES (0)');
    await allRan;
    const recoveredIn = Date.now() - (await killedAt.promise);
    replicas.slice(1).forEach((r) => r.command({ kind: 'stop' }));
    await Promise.all(replicas.map((r) => r.exited.promise));
    const all = await runs();
    const result = check(all, 50, 10);
    const firstRun = new Map<string, Run>();
    const twice: Array<[Run, Run]> = [];
    for (const r of all) {
      const key = `${r.s}/${r.seq}`;
      const first = firstRun.get(key);
      if (first === undefined) firstRun.set(key, r);
      else twice.push([first, r]);
    }
    const redelivered = all.filter((r) => r.redelivered);
    process.stderr.write(
      `sigkill: ${JSON.stringify(result)}; ran twice ${twice.length}, redelivered ${redelivered.length}, all ran ${recoveredIn} ms after the kill\n`,
    );
    expect(result).toMatchObject({ orderViolations: 0, overlaps: 0, lost: 0 });
    // What ran twice had started on the killed replica; its rerun elsewhere is a redelivery.
    for (const [first, again] of twice) {
      expect(first.replica).toBe(0);
      expect(again).toMatchObject({ attempt: 2, redelivered: true });
      expect(again.replica).not.toBe(0);
    }
    // Redeliveries are exactly the killed replica's tasks: never on it, at most what it held.
    expect(twice.length).toBeGreaterThan(0);
    expect(redelivered.every((r) => r.replica !== 0 && r.attempt === 2)).toBe(true);
    expect(redelivered.length).toBeGreaterThanOrEqual(twice.length);
    expect(redelivered.length).toBeLessThanOrEqual(200);
    expect(replicas.slice(1).flatMap((r) => r.errors)).toEqual([]);
  }, 180_000);
});

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
  job: string;
}

type Stopped = Extract<ReplicaMessage, { kind: 'stopped' }>;
type Stalled = Extract<ReplicaMessage, { kind: 'stalled' }>;
type StartedMessage = Extract<ReplicaMessage, { kind: 'started' }>;

class Replica {
  readonly child: ChildProcess;
  readonly ready = deferred();
  enqueued: Deferred<number> = deferred<number>();
  held: Deferred<number> = deferred<number>();
  readonly stopped = deferred<Stopped>();
  readonly stalled = deferred<Stalled>();
  readonly exited = deferred<number | null>();
  readonly errors: Array<{ name: string; message: string }> = [];
  /** Tasks this replica finished (its 'ran' messages). */
  ran = 0;
  readonly firstRan = deferred();
  /** Its first onError report. */
  readonly reportedError = deferred();

  constructor(
    readonly id: number,
    url: string,
    onRan: (s: string, seq: number) => void,
    env: Record<string, string> = {},
    onStarted: (s: string, seq: number, m: StartedMessage) => void = () => {},
  ) {
    this.child = fork(REPLICA, [], {
      // process.execPath: the Node this suite runs on (22+).
      env: { ...process.env, NWP_DB: url, NWP_REPLICA: String(id), ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: ReplicaMessage) => {
      if (m.kind === 'ready') this.ready.resolve();
      else if (m.kind === 'enqueued') this.enqueued.resolve(m.count);
      else if (m.kind === 'started') onStarted(m.s, m.seq, m);
      else if (m.kind === 'ran') {
        this.ran++;
        this.firstRan.resolve();
        onRan(m.s, m.seq);
      } else if (m.kind === 'held') this.held.resolve(m.held);
      else if (m.kind === 'stopped') this.stopped.resolve(m);
      else if (m.kind === 'stalled') this.stalled.resolve(m);
      else if (m.kind === 'error') {
        this.errors.push({ name: m.name, message: m.message });
        this.reportedError.resolve();
      }
    });
    this.child.on('exit', (code) => {
      this.exited.resolve(code);
      this.ready.reject(new Error(`replica ${id} exited (${code}) before it was ready`));
      // An answer still awaited never comes: fail now, not at the test's timeout.
      const gone = new Error(`replica ${id} exited (${code}) before it answered`);
      for (const d of [this.enqueued, this.held, this.stopped, this.stalled]) {
        d.promise.catch(() => {});
        d.reject(gone);
      }
    });
  }

  command(c: ReplicaCommand): void {
    this.child.send(c);
  }

  /** Sends a command that answers 'enqueued', and awaits that answer. */
  async enqueue(c: ReplicaCommand): Promise<number> {
    this.enqueued = deferred<number>();
    this.command(c);
    return this.enqueued.promise;
  }

  /** The jobs it holds now (fetched, outcome not yet written). */
  async holding(): Promise<number> {
    this.held = deferred<number>();
    this.command({ kind: 'held' });
    return this.held.promise;
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

  interface Started {
    allRan: Promise<void>;
    reached: (n: number) => Promise<void>;
    /** Forks one more replica with the same options; resolves once it is ready. */
    join: () => Promise<Replica>;
  }

  /** Fresh tables and queues; replicas started and ready; resolves when `expected` distinct tasks ran. */
  async function start(
    count: number,
    expected: number,
    env: Record<string, string>,
    prefix: string,
    more: object = {},
    onStarted?: (s: string, seq: number, m: StartedMessage) => void,
  ): Promise<Started> {
    await sql.query('DROP TABLE IF EXISTS runs, running, dead');
    await sql.query('CREATE TABLE running (s text PRIMARY KEY, replica int)');
    await sql.query('CREATE TABLE dead (replica int)');
    await sql.query(
      'CREATE TABLE runs (id bigserial PRIMARY KEY, s text, seq int, replica int, attempt int, redelivered bool, overlap bool, job text)',
    );
    const distinct = new Set<string>();
    const began = Date.now();
    progress = () => {
      const errors = replicas.flatMap((r) => r.errors);
      return (
        `${distinct.size} of ${expected} tasks ran in ${Date.now() - began} ms; per replica ` +
        `${replicas.map((r) => r.ran).join(', ')}; ${errors.length} errors reported` +
        (errors.length === 0 ? '' : `, the first: ${errors[0]!.name}: ${errors[0]!.message}`)
      );
    };
    const waiters: Array<{ n: number; reached: Deferred }> = [];
    const reached = (n: number) => {
      const waiter = { n, reached: deferred() };
      waiters.push(waiter);
      if (distinct.size >= n) waiter.reached.resolve();
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
    const fork = () => {
      const r = new Replica(
        replicas.length,
        db.url,
        onRan,
        { NWP_CLUSTER: JSON.stringify(options), ...env },
        onStarted,
      );
      replicas.push(r);
      return r;
    };
    for (let i = 0; i < count; i++) fork();
    await Promise.all(replicas.map((r) => r.ready.promise));
    return {
      allRan,
      reached,
      join: async () => {
        const r = fork();
        await r.ready.promise;
        return r;
      },
    };
  }

  /** Each replica enqueues its share of the sessions (session i by replica i % count). */
  async function enqueue(
    sessions: number,
    tasks: number,
    poison?: { s: string; seq: number },
  ): Promise<void> {
    await Promise.all(
      replicas.map((r) =>
        r.enqueue({
          kind: 'enqueue',
          sessions: Array.from({ length: sessions }, (_, i) => `s${i}`).filter(
            (_, i) => i % replicas.length === r.id,
          ),
          tasks,
          ...(poison === undefined ? {} : { poison }),
        }),
      ),
    );
  }

  async function runs(): Promise<Run[]> {
    const { rows } = await sql.query<Run>(
      'SELECT s, seq, replica, attempt, redelivered, overlap, job FROM runs ORDER BY id',
    );
    return rows;
  }

  /** Stops the replicas still running (finishing what they hold) and awaits their exit. */
  async function stopAll(): Promise<Stopped[]> {
    const live = replicas.filter((r) => r.child.exitCode === null && r.child.connected);
    live.forEach((r) => r.command({ kind: 'stop' }));
    const stopped = await Promise.all(live.map((r) => r.stopped.promise));
    expect(await Promise.all(live.map((r) => r.exited.promise))).toEqual(live.map(() => 0));
    return stopped;
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

  it('3 replicas, 200 sessions x 25 tasks enqueued through all of them: 0 order violations, 0 overlaps, 0 lost, none twice', async () => {
    const began = Date.now();
    const { allRan } = await start(3, 5_000, { NWP_WORK_MS: '1' }, 'order', {
      fetchBatchSize: 50,
    });
    await enqueue(200, 25);
    await allRan;
    const stopped = await stopAll();
    const result = check(await runs(), 200, 25);
    process.stderr.write(`replicas: ${JSON.stringify(result)} in ${Date.now() - began} ms\n`);
    expect(result).toMatchObject({ orderViolations: 0, overlaps: 0, lost: 0, duplicates: 0 });
    expect(stopped.map((s) => s.held)).toEqual([0, 0, 0]);
    expect(stopped.reduce((n, s) => n + s.completed, 0)).toBe(5_000);
    expect(replicas.flatMap((r) => r.errors)).toEqual([]);
  }, 300_000);

  it('a replica stopped with SIGTERM mid-run finishes what it holds: nothing runs twice, nothing is lost, order kept', async () => {
    const { allRan, reached } = await start(3, 500, { NWP_WORK_MS: '10' }, 'sigterm');
    const third = reached(150);
    await enqueue(50, 10);
    await third;
    replicas[0]!.child.kill('SIGTERM');
    const stopped = await replicas[0]!.stopped.promise;
    expect(await replicas[0]!.exited.promise).toBe(0);
    await allRan;
    await stopAll();
    const all = await runs();
    const result = check(all, 50, 10);
    process.stderr.write(
      `sigterm: ${JSON.stringify(result)}; replica 0 completed ${stopped.completed}\n`,
    );
    expect(result).toMatchObject({ orderViolations: 0, overlaps: 0, lost: 0, duplicates: 0 });
    expect(stopped).toMatchObject({ held: 0, cancelled: 0, handedBack: 0 });
    // The stopped replica did part of the work, and every task ran on its first attempt.
    expect(stopped.completed).toBeGreaterThan(0);
    expect(all.every((r) => r.attempt === 1 && !r.redelivered)).toBe(true);
  }, 180_000);

  it('a replica SIGKILLed mid-run under 200 sessions x 25 tasks enqueued through all three: exactly the tasks it had started and not finished run twice, again elsewhere with ctx.redelivered and attempt 2, the first within heartbeatSeconds + monitorIntervalSeconds (+ 3 s) of the kill; 0 order violations, 0 overlaps, 0 lost', async () => {
    const heartbeatSeconds = 10;
    const monitorIntervalSeconds = 1;
    // Its last heartbeat was at most heartbeatSeconds / 2 before the kill, so its jobs lapse within
    // heartbeatSeconds of it, and a survivor's supervisor fails them within monitorIntervalSeconds
    // more. The margin: that pass's own queries (the next pass starts monitorIntervalSeconds after
    // the last one's claims settled), a survivor's fetch (50 ms poll), and the tasks it holds
    // ahead on the lane (0.3-0.4 s from taking the first one to starting it, in runs on Node 22).
    // Measured: the first started 8.3-10.3 s after the kill, 11.2 s with a load average of 14.
    const boundMs = (heartbeatSeconds + monitorIntervalSeconds) * 1000 + 3_000;
    const redeliveries: number[] = [];
    const firstRedelivery = deferred();
    const { allRan, reached } = await start(
      3,
      5_000,
      { NWP_WORK_MS: '1' },
      'sigkill',
      { fetchBatchSize: 50, heartbeatSeconds, monitorIntervalSeconds },
      (_s, _seq, m) => {
        if (m.attempt === 1 && !m.redelivered) return;
        redeliveries.push(Date.now());
        firstRedelivery.resolve();
      },
    );
    const victim = replicas[0]!;
    const mid = reached(1_500);
    await enqueue(200, 25);
    await mid;
    // From here its handlers hang once started. It reports them once nothing else runs there and
    // every task it finished is completed in the queue, then starts nothing more: killed now, it
    // holds jobs, and the tasks it started and did not finish are exactly the ones reported.
    victim.command({ kind: 'stall-after', runs: 0 });
    const stalled = await victim.stalled.promise;
    const { rows: beforeKill } = await sql.query<{ at: Date }>('SELECT clock_timestamp() AS at');
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    expect(await victim.exited.promise).toBe(null);
    // Its handlers died with it: their claims on their sessions are void (else the reruns would
    // count as overlaps). Done long before its heartbeat can lapse.
    await sql.query('INSERT INTO dead VALUES (0)');
    let deadline: NodeJS.Timeout | undefined;
    await Promise.race([
      firstRedelivery.promise,
      new Promise((resolve) => (deadline = setTimeout(resolve, killedAt + boundMs - Date.now()))),
    ]);
    clearTimeout(deadline);
    const firstMs = (redeliveries[0] ?? Infinity) - killedAt;
    expect(firstMs).toBeGreaterThan(0);
    expect(firstMs).toBeLessThanOrEqual(boundMs);
    await allRan;
    await stopAll();
    const all = await runs();
    // When survivors took the jobs it held, by the database's clock.
    const { rows: refetched } = await sql.query<{ last: number }>(
      `SELECT extract(epoch FROM max(started_on) - $1::timestamptz)::float8 * 1000 AS last
         FROM pgboss.job WHERE name LIKE 'sigkill.%' AND retry_count > 0`,
      [beforeKill[0]!.at],
    );
    const result = check(all, 200, 25);
    const key = (r: { s: string; seq: number }) => `${r.s}/${r.seq}`;
    const firstRun = new Map<string, Run>();
    const twice: Array<[Run, Run]> = [];
    for (const r of all) {
      const first = firstRun.get(key(r));
      if (first === undefined) firstRun.set(key(r), r);
      else twice.push([first, r]);
    }
    const again = all.filter((r) => r.attempt > 1 || r.redelivered);
    process.stderr.write(
      `sigkill: ${JSON.stringify(result)}; killed holding ${stalled.held} jobs (${stalled.hung.length} ` +
        `started), ran twice ${twice.length}, redelivered ${again.length}: the first started ` +
        `${firstMs} ms after the kill, all taken again by ${Math.round(refetched[0]!.last)} ms, ` +
        `all started by ${redeliveries.at(-1)! - killedAt} ms\n`,
    );
    expect(result).toMatchObject({ orderViolations: 0, overlaps: 0, lost: 0 });
    expect(stalled.hung.length).toBeGreaterThan(0);
    // What ran twice is exactly what it had started and not finished: first there, then once
    // elsewhere, as a redelivery.
    expect(twice.map(([first]) => key(first)).sort()).toEqual(stalled.hung.map(key).sort());
    for (const [first, rerun] of twice) {
      expect(first).toMatchObject({ replica: 0, attempt: 1, redelivered: false });
      expect(rerun).toMatchObject({ attempt: 2, redelivered: true });
      expect(rerun.replica).not.toBe(0);
    }
    // Every job it held (started, or still queued in its pool) ran once more elsewhere, and
    // nothing else did (no handler failed): the survivors took them all within the bound.
    expect(again.every((r) => r.replica !== 0 && r.attempt === 2 && r.redelivered)).toBe(true);
    expect(again.length).toBeGreaterThanOrEqual(stalled.held);
    expect(again.length).toBeLessThanOrEqual(200);
    expect(refetched[0]!.last).toBeLessThanOrEqual(boundMs);
    expect(replicas.slice(1).flatMap((r) => r.errors)).toEqual([]);
  }, 120_000);

  it("a replica paused past its heartbeat (SIGSTOP) mid-task: the task runs again on another replica (redelivered, attempt 2), and the paused one's outcome, written once it resumes, is fenced off: the job stays the other's, the session's next task waits for it, and it is not counted as completed", async () => {
    const started = new Map<string, Deferred>([
      ['0/1', deferred()],
      ['0/2', deferred()],
    ]);
    const { allRan, join } = await start(
      1,
      2,
      {},
      'fence',
      { heartbeatSeconds: 10, monitorIntervalSeconds: 1 },
      (_s, seq, m) => started.get(`${seq}/${m.attempt}`)?.resolve(),
    );
    const paused = replicas[0]!;
    // Its first task waits for 'release': the replica holds it when it is paused.
    await paused.enqueue({ kind: 'send', session: 's0', payload: { seq: 0, gate: true } });
    await paused.enqueue({ kind: 'send', session: 's0', payload: { seq: 1 } });
    await started.get('0/1')!.promise;
    paused.child.kill('SIGSTOP');
    // Paused past its heartbeat, it counts as dead: its claim on the session is void, and its
    // handler, resumed, ends beside the rerun (at least once; handlers must be idempotent).
    await sql.query('INSERT INTO dead VALUES (0)');
    const other = await join();
    // Its heartbeat lapses; the other replica runs the task again (and waits for 'release' too).
    await started.get('0/2')!.promise;
    paused.child.kill('SIGCONT');
    paused.command({ kind: 'release' });
    // Its handler ends and it writes the outcome of its attempt: once written, it holds nothing.
    while ((await paused.holding()) > 0);
    const { rows: jobs } = await sql.query<{ seq: number; state: string; retry_count: number }>(
      `SELECT (data->'p'->>'seq')::int AS seq, state::text, retry_count FROM pgboss.job
        WHERE name LIKE 'fence.%' ORDER BY 1`,
    );
    // Unfenced, that write would complete the job the other replica runs, and free the session.
    expect(jobs).toEqual([
      { seq: 0, state: 'active', retry_count: 1 },
      { seq: 1, state: 'created', retry_count: 0 },
    ]);
    other.command({ kind: 'release' });
    await allRan;
    const stopped = await stopAll();
    // Two jobs, each completed once: the fenced-off write is no completion (stats().completed).
    expect(stopped.map((s) => s.completed).reduce((a, b) => a + b)).toBe(2);
    const all = await runs();
    expect(all.map((r) => [r.seq, r.replica, r.attempt, r.redelivered, r.overlap])).toEqual([
      [0, 0, 1, false, false],
      [0, 1, 2, true, false],
      [1, expect.any(Number), 1, false, false],
    ]);
  }, 60_000);

  it('a 4th replica joining mid-run takes work (it runs tasks), and the contract holds over all four', async () => {
    const { allRan, reached, join } = await start(3, 2_000, { NWP_WORK_MS: '2' }, 'join', {
      maxHeld: 30,
      fetchBatchSize: 10,
    });
    const some = reached(200);
    await enqueue(100, 20);
    await some;
    // The three hold at most 90 of the 100 sessions and start nothing more while paused, so
    // work is left that only the newcomer can take (else they might take it all first).
    replicas.forEach((r) => r.command({ kind: 'pause' }));
    const fourth = await join();
    await fourth.firstRan.promise;
    replicas.slice(0, 3).forEach((r) => r.command({ kind: 'resume' }));
    await allRan;
    await stopAll();
    const result = check(await runs(), 100, 20);
    process.stderr.write(`join: ${JSON.stringify(result)}\n`);
    expect(result).toMatchObject({ orderViolations: 0, overlaps: 0, lost: 0, duplicates: 0 });
    expect(fourth.ran).toBeGreaterThan(0);
    expect(result.perReplica.map(([id]) => id)).toEqual([0, 1, 2, 3]);
    expect(replicas.flatMap((r) => r.errors)).toEqual([]);
  }, 180_000);

  it("two replicas enqueueing for one session at once: its tasks run one at a time, in one order, the order the database created the jobs in (each replica's calls in call order)", async () => {
    const { allRan } = await start(2, 81, { NWP_WORK_MS: '1' }, 'shared');
    // A first task that waits for 'release' holds the session while both replicas store
    // theirs: the run order is then the database's order of the jobs, not a race between a
    // store and a fetch.
    await replicas[0]!.enqueue({ kind: 'send', session: 's0', payload: { seq: 0, gate: true } });
    await Promise.all(replicas.map((r) => r.enqueue({ kind: 'burst', session: 's0', tasks: 40 })));
    replicas.forEach((r) => r.command({ kind: 'release' }));
    await allRan;
    await stopAll();
    const all = await runs();
    const { rows: created } = await sql.query<{ id: string }>(
      `SELECT id::text FROM pgboss.job WHERE name LIKE 'shared.%' AND singleton_key = 's:s0'
        ORDER BY created_on, id`,
    );
    const bySubmitter = [0, 1].map((by) =>
      all.filter((r) => r.seq >= (by + 1) * 1000 && r.seq < (by + 2) * 1000).map((r) => r.seq),
    );
    let switches = 0;
    for (let i = 1; i < all.length; i++)
      if (Math.floor(all[i]!.seq / 1000) !== Math.floor(all[i - 1]!.seq / 1000)) switches++;
    process.stderr.write(
      `shared session: ${all.length} runs, submitters interleaved ${switches} times\n`,
    );
    expect(all).toHaveLength(81);
    expect(all.filter((r) => r.overlap)).toEqual([]);
    expect(all.map((r) => r.job)).toEqual(created.map((r) => r.id));
    for (const [by, seqs] of bySubmitter.entries())
      expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => (by + 1) * 1000 + i));
  }, 120_000);

  it.each(['block', 'dead-letter'] as const)(
    "a poison task under onFailure '%s' across replicas: its attempts run in turn, it is reported once; its session waits (block) or goes on (dead-letter); others are untouched",
    async (onFailure) => {
      const prefix = `poison-${onFailure}`;
      const blocked = onFailure === 'block';
      // s1's task 2 always throws; blocked, s1's tasks 3 and 4 never run.
      const { allRan } = await start(3, blocked ? 147 : 149, { NWP_WORK_MS: '2' }, prefix, {
        retry: { limit: 2 },
        onFailure,
      });
      const reported = Promise.any(replicas.map((r) => r.reportedError.promise));
      await enqueue(30, 5, { s: 's1', seq: 2 });
      await allRan;
      await reported;
      await stopAll();
      const all = await runs();
      const poison = all.filter((r) => r.s === 's1' && r.seq === 2);
      const s1 = all.filter((r) => r.s === 's1').map((r) => r.seq);
      process.stderr.write(
        `poison (${onFailure}): attempts on replicas ${JSON.stringify(poison.map((r) => r.replica))}\n`,
      );
      expect(poison.map((r) => [r.attempt, r.redelivered])).toEqual([
        [1, false],
        [2, false],
        [3, false],
      ]);
      expect(s1).toEqual(blocked ? [0, 1, 2, 2, 2] : [0, 1, 2, 2, 2, 3, 4]);
      const others = all.filter((r) => r.s !== 's1');
      expect(check(others, 30, 5)).toMatchObject({
        orderViolations: 0,
        overlaps: 0,
        duplicates: 0,
        // s1 is not among `others`: its 5 tasks are "lost" to this count only.
        lost: 5,
      });
      const errors = replicas.flatMap((r) => r.errors);
      expect(errors).toEqual([
        {
          name: 'ClusterTaskFailedError',
          message: expect.stringMatching(/failed on its last attempt \(3 in all.*poison s1\/2/),
        },
      ]);
      const { rows: jobs } = await sql.query<{ seq: number; state: string; name: string }>(
        `SELECT (data->'p'->>'seq')::int AS seq, state::text, name FROM pgboss.job
          WHERE (name LIKE $1 AND singleton_key = 's:s1' AND (data->'p'->>'seq')::int >= 2)
             OR name = $2 ORDER BY 1, 2`,
        [`${prefix}.%`, `${prefix}.dead`],
      );
      expect(jobs.map((j) => [j.seq, j.state, j.name.endsWith('.dead')])).toEqual(
        blocked
          ? [
              [2, 'failed', false],
              [3, 'created', false],
              [4, 'created', false],
            ]
          : [
              [2, 'created', true],
              [3, 'completed', false],
              [4, 'completed', false],
            ],
      );
    },
    180_000,
  );

  it('a task running at a drain deadline, and one queued behind busy lanes, go back to their queue without using an attempt and run again on another replica (the started one redelivered); order kept', async () => {
    const started: string[] = [];
    const fourStarted = deferred();
    const { allRan, join } = await start(
      1,
      10,
      {},
      'handback',
      // Without the hand-back, a cancelled task would fail its one and only attempt.
      { retry: { limit: 0 } },
      (s, seq) => {
        if (seq === 0) started.push(s);
        if (started.length === 4) fourStarted.resolve();
      },
    );
    const first = replicas[0]!;
    // 5 sessions on 4 lanes: 4 first tasks hang (until the deadline aborts them), 1 waits.
    for (let i = 0; i < 5; i++) {
      await first.enqueue({ kind: 'send', session: `s${i}`, payload: { seq: 0, hangOn: 0 } });
      await first.enqueue({ kind: 'send', session: `s${i}`, payload: { seq: 1 } });
    }
    await fourStarted.promise;
    while ((await first.holding()) < 5);
    first.command({ kind: 'stop', deadlineMs: 200 });
    const stopped = await first.stopped.promise;
    expect(await first.exited.promise).toBe(0);
    const startedOnFirst = [...started].sort();
    expect(stopped).toMatchObject({ held: 0, handedBack: 5 });
    const { rows: back } = await sql.query<{ state: string; retry_count: number }>(
      `SELECT state::text, retry_count FROM pgboss.job
        WHERE name LIKE 'handback.%' AND (data->'p'->>'seq')::int = 0`,
    );
    expect(back).toEqual(Array.from({ length: 5 }, () => ({ state: 'created', retry_count: 0 })));
    await join();
    await allRan;
    await stopAll();
    const all = await runs();
    const again = all.filter((r) => r.replica === 1 && r.seq === 0);
    expect(check(all, 5, 2)).toMatchObject({ orderViolations: 0, overlaps: 0, lost: 0 });
    expect(again.map((r) => r.attempt)).toEqual([1, 1, 1, 1, 1]);
    expect(
      again
        .filter((r) => r.redelivered)
        .map((r) => r.s)
        .sort(),
    ).toEqual(startedOnFirst);
    expect(all.filter((r) => r.seq === 1).every((r) => r.replica === 1 && r.attempt === 1)).toBe(
      true,
    );
  }, 120_000);
});

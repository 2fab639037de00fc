/**
 * Cluster mode against plain pg-boss: `npm run bench:cluster` (Node >= 22.12, PostgreSQL on
 * 127.0.0.1:5432 with trust auth; PGHOST/PGPORT/PGUSER override). Three replica processes,
 * started afresh for each round, run trivial tasks from 4 key_strict_fifo shard queues,
 * either through cluster mode (fetch + the pool's lanes, a poll every 0.5 s per idle shard) or
 * through plain pg-boss `work()` with the same batch size (a poll every 0.5 s, burst fetching
 * while batches come back full). Scenarios:
 *   drain    `tasks` tasks over `sessions` sessions stored beforehand in one INSERT per shard;
 *            timed until every one is completed in the database.
 *   enqueue  the replicas store the tasks themselves through the API (cluster.enqueue, or
 *            boss.send), sessions in parallel and each session's tasks one after the other;
 *            the store rate, and the rate until every task is completed.
 *   latency  tasks offered at a fixed rate (open loop) through the API; enqueue -> start.
 * The drain also runs through one in-process pool in this process (nothing stored), for what
 * durability costs.
 * Rounds run in a shuffled order (BENCH_SEED replays it); tables show medians of the rounds.
 * Writes bench/results/cluster-<date>.json. BENCH_QUICK=1: fewer tasks and rounds; BENCH_ROUNDS,
 * BENCH_SHARDS (default 4) and BENCH_CELLS (e.g. drain:cluster,latency:pg-boss) narrow a run.
 * One unrecorded drain per contender warms the database up first (BENCH_WARMUP=0: none).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { JobInsert, PgBoss } from 'pg-boss';
import { hash32 } from '../lib/core/hash.js';
import { Dispatcher } from '../lib/core/index.js';
import type { ReplicaCommand, ReplicaReply } from './cluster-replica.js';
import {
  QUICK,
  SEED,
  fmtMs,
  fmtRate,
  median,
  percentile,
  shuffledOrder,
  table,
} from './harness.js';

const REPLICA = fileURLToPath(new URL('./cluster-replica.js', import.meta.url));
const RESULTS = join(dirname(fileURLToPath(import.meta.url)), '../../bench/results');
const server = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
};
const config = {
  replicas: 3,
  shards: Number(process.env.BENCH_SHARDS ?? 4),
  batch: 50,
  rounds: Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3)),
  /** One unrecorded drain per contender before the rounds (see main). */
  warmup: process.env.BENCH_WARMUP !== '0',
  drain: { tasks: QUICK ? 5_000 : 20_000, sessions: QUICK ? 500 : 2_000 },
  enqueue: { tasks: QUICK ? 3_000 : 6_000, sessions: QUICK ? 300 : 600 },
  // Well below either contender's capacity on a loaded 2-core machine (plain pg-boss's
  // per-job send stored 150 /s at load average 35): the wait a task sees, not a backlog.
  latency: { ratePerReplica: 30, seconds: QUICK ? 4 : 8 },
};

/** 'in-process': one pool in this process, nothing stored (drain only): what durability costs. */
type Mode = 'cluster' | 'pg-boss' | 'in-process';
type Scenario = 'drain' | 'enqueue' | 'latency';
const MODES: Mode[] = ['cluster', 'pg-boss'];
const SCENARIOS: Scenario[] = ['drain', 'enqueue', 'latency'];

interface Round {
  scenario: Scenario;
  mode: Mode;
  round: number;
  /** drain, enqueue: tasks completed per second. */
  tasksPerSec?: number;
  /** enqueue: tasks stored per second (the slowest replica's). */
  storedPerSec?: number;
  /** latency: enqueue -> start, ms. */
  p50?: number;
  p99?: number;
  offeredPerSec?: number;
  /** cluster mode: tasks a fetch brought, on average over the replicas. */
  tasksPerFetch?: number;
  loadavg: number;
  /** Why the round ended early (it counts in no median). */
  error?: string;
}

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ ...server, database: 'postgres' });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

class Replica {
  readonly child: ChildProcess;
  private readonly waiting = new Map<string, (m: ReplicaReply) => void>();
  constructor(env: NodeJS.ProcessEnv) {
    this.child = fork(REPLICA, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: ReplicaReply) => {
      this.waiting.get(m.kind)?.(m);
      this.waiting.delete(m.kind);
    });
  }
  next<K extends ReplicaReply['kind']>(kind: K): Promise<Extract<ReplicaReply, { kind: K }>> {
    return new Promise((resolve, reject) => {
      this.waiting.set(kind, resolve as never);
      // A replica that died (a crash, a refused connection) ends the run, not a wait forever.
      this.child.once('exit', (code) =>
        this.waiting.has(kind) ? reject(new Error(`a replica exited (${code})`)) : undefined,
      );
    });
  }
  send(c: ReplicaCommand): void {
    this.child.send(c);
  }
}

async function completed(db: pg.Client, prefix: string): Promise<number> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS n FROM pgboss.job WHERE name LIKE $1 AND state = 'completed'`,
    [`${prefix}.%`],
  );
  return rows[0].n as number;
}

async function untilCompleted(db: pg.Client, prefix: string, goal: number): Promise<void> {
  while ((await completed(db, prefix)) < goal)
    await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Sessions s0..s(n-1) dealt to the replicas in turn. */
function deal(sessions: number, replicas: number): string[][] {
  const out = Array.from({ length: replicas }, () => [] as string[]);
  for (let i = 0; i < sessions; i++) out[i % replicas]!.push(`s${i}`);
  return out;
}

async function round(boss: PgBoss, url: string, scenario: Scenario, mode: Mode, r: number) {
  if (mode === 'in-process') return inProcessDrain(r);
  const prefix = mode;
  const env = {
    ...process.env,
    NWP_DB: url,
    NWP_MODE: mode,
    NWP_SHARDS: String(config.shards),
    NWP_BATCH: String(config.batch),
    NWP_PREFIX: prefix,
  };
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  await db.query(`DELETE FROM pgboss.job WHERE name LIKE $1`, [`${prefix}.%`]);
  const replicas = Array.from({ length: config.replicas }, () => new Replica(env));
  try {
    return await measure(boss, db, replicas, scenario, mode, r);
  } finally {
    for (const c of replicas) if (c.child.exitCode === null) c.child.kill('SIGKILL');
    await db.end();
  }
}

/** The drain's tasks through one in-process pool of 8 lanes: submitted at once, all awaited. */
async function inProcessDrain(r: number): Promise<Round> {
  const { tasks, sessions } = config.drain;
  const result: Round = {
    scenario: 'drain',
    mode: 'in-process',
    round: r,
    loadavg: os.loadavg()[0]!,
  };
  const pool = new Dispatcher({ lanes: 8 });
  pool.registerHandler('noop', () => {});
  pool.start();
  const began = performance.now();
  const done: Promise<unknown>[] = [];
  for (let i = 0; i < tasks; i++)
    done.push(pool.submit('noop', i, { sessionId: `s${i % sessions}` }));
  await Promise.all(done);
  result.tasksPerSec = tasks / ((performance.now() - began) / 1000);
  await pool.drain();
  return result;
}

async function measure(
  boss: PgBoss,
  db: pg.Client,
  replicas: Replica[],
  scenario: Scenario,
  mode: Mode,
  r: number,
): Promise<Round> {
  const prefix = mode;
  await Promise.all(replicas.map((c) => c.next('ready')));
  const result: Round = { scenario, mode, round: r, loadavg: os.loadavg()[0]! };
  if (scenario === 'drain') {
    const { tasks, sessions } = config.drain;
    // Stored as cluster.enqueue() stores them: the envelope, the session key, its shard.
    const perShard = Array.from({ length: config.shards }, () => [] as JobInsert[]);
    for (let i = 0; i < tasks; i++) {
      const s = `s${i % sessions}`;
      const singletonKey = `s:${s}`;
      perShard[hash32(singletonKey) % config.shards]!.push({
        singletonKey,
        data: { t: 'noop', s, p: i },
      });
    }
    await Promise.all(perShard.map((jobs, i) => boss.insert(`${prefix}.${i}`, jobs)));
    const began = performance.now();
    await untilCompleted(db, prefix, tasks);
    result.tasksPerSec = tasks / ((performance.now() - began) / 1000);
  } else {
    const enqueue = scenario === 'enqueue';
    const { ratePerReplica, seconds } = config.latency;
    const sessions = enqueue ? config.enqueue.sessions : ratePerReplica * config.replicas;
    const tasks = enqueue ? config.enqueue.tasks : ratePerReplica * seconds * config.replicas;
    const perSession = tasks / sessions;
    const dealt = deal(sessions, config.replicas);
    const began = performance.now();
    const stored = replicas.map((c) => c.next('enqueued'));
    replicas.forEach((c, i) =>
      c.send({
        kind: 'enqueue',
        sessions: dealt[i]!,
        perSession,
        rate: enqueue ? 0 : ratePerReplica,
      }),
    );
    const storeMs = Math.max(...(await Promise.all(stored)).map((m) => m.ms));
    await untilCompleted(db, prefix, tasks);
    if (enqueue) {
      result.storedPerSec = tasks / (storeMs / 1000);
      result.tasksPerSec = tasks / ((performance.now() - began) / 1000);
    } else result.offeredPerSec = ratePerReplica * config.replicas;
  }
  const stopped = replicas.map((c) => c.next('stopped'));
  for (const c of replicas) c.send({ kind: 'stop' });
  const replies = await Promise.all(stopped);
  const latencies = replies.flatMap((m) => m.latencies);
  const fetches = replies.reduce((n, m) => n + (m.fetches ?? 0), 0);
  if (fetches > 0) result.tasksPerFetch = replies.reduce((n, m) => n + m.fetched!, 0) / fetches;
  if (scenario === 'latency') {
    latencies.sort((a, b) => a - b);
    result.p50 = percentile(latencies, 50);
    result.p99 = percentile(latencies, 99);
  }
  await Promise.all(
    replicas.map((c) =>
      c.child.exitCode === null ? new Promise((resolve) => c.child.once('exit', resolve)) : null,
    ),
  );
  return result;
}

async function main(): Promise<void> {
  const name = `nwp_bench_${process.pid}`;
  await admin(`CREATE DATABASE ${name}`);
  // Stopped by a signal: drop the database all the same.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(
      signal,
      () =>
        void admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => process.exit(130)),
    );
  const url = `postgres://${server.user}@${server.host}:${server.port}/${name}`;
  const started = new Date();
  const loadavgAtStart = os.loadavg();
  console.log(
    `cluster bench: ${config.replicas} replica processes, ${config.shards} key_strict_fifo shard queues, fetch batch ${config.batch}, ` +
      `Node ${process.versions.node}, ${os.cpus().length} cpus, load average ${loadavgAtStart.map((x) => x.toFixed(2)).join(' ')}; seed ${SEED}`,
  );
  const rounds: Round[] = [];
  try {
    // The schema and the queues once (cluster mode's replicas apply their own settings).
    const { PgBoss } = await import('pg-boss');
    const boss = new PgBoss({ connectionString: url, schedule: false, supervise: false });
    await boss.start();
    for (const mode of MODES) {
      for (let i = 0; i < config.shards; i++) {
        // pg-boss's defaults (no NOTIFY), as cluster mode makes its queues.
        await boss.createQueue(`${mode}.${i}`, { policy: 'key_strict_fifo' });
      }
    }
    // Every (scenario, contender) once per round, in a shuffled order.
    // BENCH_CELLS=drain:cluster,latency:pg-boss runs only those.
    const only = process.env.BENCH_CELLS?.split(',');
    const cells = [
      ...SCENARIOS.flatMap((scenario) => MODES.map((mode) => ({ scenario, mode }))),
      { scenario: 'drain' as const, mode: 'in-process' as const },
    ].filter((c) => only === undefined || only.includes(`${c.scenario}:${c.mode}`));
    // Warm-up, not recorded: on a new database the first drain runs before autovacuum has
    // analyzed pg-boss's job table, with plans 2-4x slower; whichever contender the shuffle put
    // first would pay for it.
    if (config.warmup) {
      for (const mode of MODES) await round(boss, url, 'drain', mode, 0).catch(() => undefined);
    }
    for (let r = 1; r <= config.rounds; r++) {
      for (const i of shuffledOrder(cells.length)) {
        const { scenario, mode } = cells[i]!;
        let result: Round;
        try {
          result = await round(boss, url, scenario, mode, r);
        } catch (error) {
          // Recorded, and the run goes on: on a shared server a round can lose its connections.
          const failed = {
            scenario,
            mode,
            round: r,
            loadavg: os.loadavg()[0]!,
            error: String(error),
          };
          rounds.push(failed);
          console.log(`round ${r} ${scenario} ${mode}: FAILED ${failed.error}`);
          continue;
        }
        rounds.push(result);
        console.log(
          `round ${r} ${scenario} ${mode}: ` +
            (result.p50 !== undefined
              ? `p50 ${fmtMs(result.p50)}, p99 ${fmtMs(result.p99!)}`
              : `${fmtRate(result.tasksPerSec!)}` +
                (result.storedPerSec ? ` (stored ${fmtRate(result.storedPerSec)})` : '')) +
            (result.tasksPerFetch ? `, ${result.tasksPerFetch.toFixed(1)} tasks per fetch` : '') +
            ` (load ${result.loadavg.toFixed(2)})`,
        );
      }
    }
    await boss.stop({ graceful: false });
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  const med = (scenario: Scenario, mode: Mode, key: keyof Round) =>
    median(
      rounds
        .filter((r) => r.scenario === scenario && r.mode === mode && r.error === undefined)
        .map((r) => r[key] as number),
    );
  const ratio = (scenario: Scenario, key: keyof Round) =>
    (med(scenario, 'cluster', key) / med(scenario, 'pg-boss', key)).toFixed(2);
  const rows = [
    ['drain: tasks/s', 'drain', 'tasksPerSec', fmtRate],
    ['enqueue through the API: stored/s', 'enqueue', 'storedPerSec', fmtRate],
    ['enqueue through the API: completed/s', 'enqueue', 'tasksPerSec', fmtRate],
    [
      `latency at ${config.latency.ratePerReplica * config.replicas}/s: enqueue -> start p50`,
      'latency',
      'p50',
      fmtMs,
    ],
    ['latency: enqueue -> start p99', 'latency', 'p99', fmtMs],
  ] as const;
  console.log(
    `\nMedians of ${config.rounds} rounds; drain: ${config.drain.tasks} tasks over ${config.drain.sessions} sessions; ` +
      `enqueue: ${config.enqueue.tasks} over ${config.enqueue.sessions}; load average at the end ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}\n`,
  );
  console.log(
    table(
      ['measure', 'cluster mode', 'plain pg-boss work()', 'cluster ÷ pg-boss'],
      rows.map(([label, scenario, key, fmt]) => [
        label,
        fmt(med(scenario, 'cluster', key)),
        fmt(med(scenario, 'pg-boss', key)),
        ratio(scenario, key),
      ]),
    ),
  );
  const inProcess = med('drain', 'in-process', 'tasksPerSec');
  console.log(
    `\ndrain through one in-process pool (nothing stored): ${fmtRate(inProcess)}; ` +
      `cluster mode across ${config.replicas} replicas runs at ${(med('drain', 'cluster', 'tasksPerSec') / inProcess).toFixed(4)} of it`,
  );
  mkdirSync(RESULTS, { recursive: true });
  const stamp = started.toISOString().slice(0, 16).replace(':', '-');
  const file = join(RESULTS, `cluster-${stamp}${QUICK ? '-quick' : ''}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        meta: {
          date: started.toISOString(),
          node: process.versions.node,
          cpus: os.cpus().length,
          seed: SEED,
          quick: QUICK,
          loadavgAtStart,
          loadavgAtEnd: os.loadavg(),
        },
        config,
        medians: Object.fromEntries(
          rows.map(([label, scenario, key]) => [
            label,
            { cluster: med(scenario, 'cluster', key), 'pg-boss': med(scenario, 'pg-boss', key) },
          ]),
        ),
        inProcessDrain: inProcess,
        rounds,
      },
      null,
      2,
    ),
  );
  console.log(`\nwrote ${file}`);
}

await main();

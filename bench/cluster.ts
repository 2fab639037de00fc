/**
 * Cluster mode against plain pg-boss: `npm run bench:cluster` (Node >= 22.12, PostgreSQL on
 * 127.0.0.1:5432 with trust auth; PGHOST/PGPORT/PGUSER override). Each scenario stores
 * `tasks` trivial tasks over `sessions` sessions in the shard queues in one transaction, with
 * `replicas` processes already running, and times until every task is completed in the
 * database. Two rounds per contender, alternating; the table shows the better one.
 *   BENCH_QUICK=1: fewer tasks.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { JobInsert, PgBoss } from 'pg-boss';
import { hash32 } from '../lib/core/hash.js';
import { QUICK, fmtRate, table } from './harness.js';

const REPLICA = fileURLToPath(new URL('./cluster-replica.js', import.meta.url));
const server = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
};
const config = {
  tasks: QUICK ? 5_000 : 20_000,
  sessions: QUICK ? 500 : 2_000,
  replicas: 3,
  shards: 4,
  batch: 50,
  rounds: 2,
};

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ ...server, database: 'postgres' });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

type Mode = 'cluster' | 'pg-boss';

async function round(boss: PgBoss, url: string, mode: Mode, prefix: string): Promise<number> {
  const env = {
    ...process.env,
    NWP_DB: url,
    NWP_MODE: mode,
    NWP_SHARDS: String(config.shards),
    NWP_BATCH: String(config.batch),
    NWP_PREFIX: prefix,
  };
  const children = Array.from({ length: config.replicas }, () =>
    fork(REPLICA, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  await Promise.all(children.map((c) => new Promise((resolve) => c.once('message', resolve))));
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  await db.query(`DELETE FROM pgboss.job WHERE name LIKE $1`, [`${prefix}.%`]);
  // Stored as cluster.enqueue() stores them: the envelope, the session key, its shard.
  const perShard = Array.from({ length: config.shards }, () => [] as JobInsert[]);
  for (let i = 0; i < config.tasks; i++) {
    const s = `s${i % config.sessions}`;
    const singletonKey = `s:${s}`;
    perShard[hash32(singletonKey) % config.shards]!.push({
      singletonKey,
      data: { t: 'noop', s, p: i },
    });
  }
  await Promise.all(perShard.map((jobs, i) => boss.insert(`${prefix}.${i}`, jobs)));
  const started = performance.now();
  for (;;) {
    const { rows: r } = await db.query(
      `SELECT count(*)::int AS n FROM pgboss.job WHERE name LIKE $1 AND state = 'completed'`,
      [`${prefix}.%`],
    );
    if (r[0].n >= config.tasks) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  for (const c of children) c.send({ kind: 'stop' });
  await Promise.all(children.map((c) => new Promise((resolve) => c.once('exit', resolve))));
  await db.end();
  return config.tasks / seconds;
}

async function main(): Promise<void> {
  const name = `nwp_bench_${process.pid}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = `postgres://${server.user}@${server.host}:${server.port}/${name}`;
  try {
    // Install the schema and the queues once.
    const { PgBoss } = await import('pg-boss');
    const boss = new PgBoss({ connectionString: url, schedule: false, supervise: false });
    await boss.start();
    for (const mode of ['cluster', 'pg-boss']) {
      for (let i = 0; i < config.shards; i++) {
        await boss.createQueue(`${mode}.${i}`, { policy: 'key_strict_fifo' });
      }
    }
    const best: Record<Mode, number> = { cluster: 0, 'pg-boss': 0 };
    for (let r = 0; r < config.rounds; r++) {
      for (const mode of ['cluster', 'pg-boss'] as Mode[]) {
        const rate = await round(boss, url, mode, mode);
        best[mode] = Math.max(best[mode], rate);
        console.log(`round ${r + 1} ${mode}: ${fmtRate(rate)}`);
      }
    }
    console.log(
      `\n${config.tasks} trivial tasks, ${config.sessions} sessions, ${config.replicas} replica processes, ` +
        `${config.shards} shard queues (key_strict_fifo), fetch batch ${config.batch}, Node ${process.versions.node}\n`,
    );
    console.log(
      table(
        ['contender', 'tasks/s (best of rounds)', 'cluster ÷ it'],
        [
          ['cluster mode (fetch + local lanes)', fmtRate(best.cluster), '1.00'],
          [
            'plain pg-boss work()',
            fmtRate(best['pg-boss']),
            (best.cluster / best['pg-boss']).toFixed(2),
          ],
        ],
      ),
    );
    await boss.stop({ graceful: false });
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

await main();

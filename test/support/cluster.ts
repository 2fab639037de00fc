// Cluster suites run on Node 22+ (pg-boss 12 needs it) against the machine's PostgreSQL, each in a
// database of its own that it drops at the end. On an older Node they are skipped with a printed
// reason: CI runs the whole suite again on Node 22 and 24 (.ci/run), where they run.
import { describe } from '@jest/globals';
import pg from 'pg';

export const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
export const CLUSTER_NODE_MAJOR = 22;
export const clusterSupported = NODE_MAJOR >= CLUSTER_NODE_MAJOR;

/** `describe` on Node 22+, else `describe.skip` after printing why. */
export function describeCluster(name: string, body: () => void): void {
  if (clusterSupported) {
    describe(name, body);
    return;
  }
  process.stderr.write(
    `skipped "${name}": cluster mode needs Node >= ${CLUSTER_NODE_MAJOR} (pg-boss 12), this is ` +
      `Node ${process.versions.node}; CI runs it on Node 22 and 24 (.ci/run).\n`,
  );
  describe.skip(name, body);
}

/** The server the suites use; PGHOST/PGPORT/PGUSER override it. */
export const PG_SERVER = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
};

export function connectionString(database: string): string {
  return `postgres://${PG_SERVER.user}@${PG_SERVER.host}:${PG_SERVER.port}/${database}`;
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...PG_SERVER, database: 'postgres' });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Runs one statement on the server's `postgres` database (to create, cut off or drop one). */
export function adminQuery(sql: string): Promise<pg.QueryResult> {
  return admin((c) => c.query(sql));
}

/**
 * Makes `database` unreachable: no new connection is allowed and the open ones are ended.
 * The returned function lets connections in again.
 */
export async function cutOff(database: string): Promise<() => Promise<void>> {
  await adminQuery(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
  await adminQuery(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${database}'`,
  );
  return async () => {
    await adminQuery(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
  };
}

let created = 0;

/** A fresh database, `nwp_cluster_<pid>_<n>`; `drop()` removes it (and ends its connections). */
export async function freshDatabase(): Promise<{
  name: string;
  url: string;
  drop(): Promise<void>;
}> {
  const name = `nwp_cluster_${process.pid}_${++created}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: connectionString(name),
    drop: () =>
      admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

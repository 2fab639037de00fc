// `npm run sample:cluster`: the sample app as several replicas (child processes) in cluster
// mode on this machine's PostgreSQL. Messages of each conversation are posted to the replicas
// in turn; a table that every replica writes to checks that each conversation's messages ran
// in order and one at a time, wherever they ran.
//   PGHOST, PGPORT, PGUSER      the server (default postgres@127.0.0.1:5432, trust auth)
//   SAMPLE_DATABASE             its database, created if missing (default nwp_sample)
//   SAMPLE_REPLICAS, SAMPLE_CONVERSATIONS, SAMPLE_MESSAGES   (default 3, 100, 20)
import { type ChildProcess, fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

// pg-boss 12 needs Node 22.12: say so before anything of cluster mode is loaded.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(`The cluster sample needs Node >= 22.12 (pg-boss 12 requires it); this is Node ${process.versions.node}.
Get Node 22 from the npm registry and run the sample with it:
  npm install --prefix /tmp/node22 node@22
  PATH=/tmp/node22/node_modules/.bin:$PATH npm run sample:cluster
(npm run sample, the in-process sample, runs on Node 20.)`);
  process.exit(1);
}

const { default: pg } = await import('pg');
const { ORDER_TABLE, ORDER_TABLE_DDL } = await import('./shared-order-log.js');
type ReplicaMessage = import('./replica.js').ReplicaMessage;

const server = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
};
const database = process.env.SAMPLE_DATABASE ?? 'nwp_sample';
const REPLICAS = count('SAMPLE_REPLICAS', 3, 1, 8);
const CONVERSATIONS = count('SAMPLE_CONVERSATIONS', 100, 1, 100_000);
const MESSAGES = count('SAMPLE_MESSAGES', 20, 1, 10_000);
const TOTAL = CONVERSATIONS * MESSAGES;
const DEMO = ['hello', 'how are you?', 'bye'];
const REPLICA = fileURLToPath(new URL('./replica.js', import.meta.url));

function count(name: string, fallback: number, min: number, max: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (Number.isInteger(value) && value >= min && value <= max) return value;
  console.error(`${name}=${process.env[name]}: give an integer from ${min} to ${max}.`);
  process.exit(1);
}

if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) {
  console.error(`SAMPLE_DATABASE=${database}: give a database name of a-z, 0-9 and _.`);
  process.exit(1);
}
const url = `postgres://${server.user}@${server.host}:${server.port}/${database}`;
console.log(`Cluster sample: ${REPLICAS} replicas of the sample app on ${url}`);

// The database: created if missing. The server unreachable: say what to do.
const admin = new pg.Client({ ...server, database: 'postgres' });
try {
  await admin.connect();
} catch (error) {
  console.error(
    `PostgreSQL does not answer at ${server.host}:${server.port} as ${server.user} (${(error as Error).message}).\n` +
      'Start it (service postgresql start), or point PGHOST / PGPORT / PGUSER at a server with trust or .pgpass auth.',
  );
  process.exit(1);
}
const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
if (rowCount === 0) await admin.query(`CREATE DATABASE ${database}`);
await admin.end();
console.log(`  database ${database}: ${rowCount === 0 ? 'created' : 'exists'}`);

// Each run starts from empty queues and an empty order table.
const db = new pg.Pool({ connectionString: url, max: 2 });
await db.query(`DROP SCHEMA IF EXISTS nwp_sample CASCADE`);
await db.query(`DROP TABLE IF EXISTS ${ORDER_TABLE}`);
await db.query(ORDER_TABLE_DDL);
console.log(`  queues (schema nwp_sample) and the order table (${ORDER_TABLE}) made afresh`);

/**
 * A POST on a kept-alive connection. A connection the replica closed just as this request went
 * out on it (ECONNRESET on a reused socket) never delivered it: sent again, as Node's docs advise.
 */
function request(
  url: URL,
  body: string,
  agent: http.Agent,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (req.reusedSocket && error.code === 'ECONNRESET')
        request(url, body, agent).then(resolve, reject);
      else reject(error);
    });
    req.end(body);
  });
}

class Replica {
  readonly child: ChildProcess;
  readonly ready: Promise<string>;
  readonly stopped: Promise<{ fetched: number; completed: number }>;
  constructor(readonly id: number) {
    this.child = fork(REPLICA, [], {
      env: { ...process.env, SAMPLE_DB_URL: url, SAMPLE_REPLICA: String(id) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const exited = new Promise<never>((_, reject) =>
      this.child.once('exit', (code) => reject(new Error(`replica ${id} exited (code ${code})`))),
    );
    exited.catch(() => {});
    const message = <K extends ReplicaMessage['kind']>(kind: K) =>
      Promise.race([
        new Promise<Extract<ReplicaMessage, { kind: K }>>((resolve) =>
          this.child.on('message', (m: ReplicaMessage) => m.kind === kind && resolve(m as never)),
        ),
        exited,
      ]);
    this.ready = message('ready').then((m) => {
      console.log(`  replica ${id} (pid ${m.pid}) listening on ${m.url}`);
      return m.url;
    });
    this.stopped = message('stopped');
    // Awaited later, or not at all when the run failed before.
    this.ready.catch(() => {});
    this.stopped.catch(() => {});
  }
}

const replicas: Replica[] = [];
const urls: string[] = [];
let progress: NodeJS.Timeout | undefined;
try {
  // The first replica installs pg-boss's schema and the queues; the others then join.
  replicas.push(new Replica(0));
  urls.push(await replicas[0]!.ready);
  for (let i = 1; i < REPLICAS; i++) replicas.push(new Replica(i));
  urls.push(...(await Promise.all(replicas.slice(1).map((r) => r.ready))));

  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const post = (replica: number, conversation: string, body: object, wait: boolean) =>
    request(
      new URL(
        `${urls[replica]}/conversations/${conversation}/messages${wait ? '' : '?wait=false'}`,
      ),
      JSON.stringify(body),
      agent,
    );

  console.log('\nOne conversation, each message to the next replica, awaiting its reply:');
  for (const [seq, text] of DEMO.entries()) {
    const res = await post(seq % REPLICAS, 'demo', { seq, text }, true);
    console.log(
      `  replica ${seq % REPLICAS}: POST /conversations/demo/messages ${JSON.stringify({ seq, text })} -> ${res.status} ${res.body}`,
    );
  }

  console.log(
    `\nSending ${CONVERSATIONS} conversations x ${MESSAGES} messages, message n of a conversation to replica (conversation + n) % ${REPLICAS};\n` +
      'each answered 202 once committed, and a conversation sends its next message after that:',
  );
  const ran = async () =>
    Number((await db.query(`SELECT coalesce(sum(runs), 0) AS n FROM ${ORDER_TABLE}`)).rows[0].n) -
    DEMO.length;
  let accepted = 0;
  let refused = 0;
  const began = Date.now();
  progress = setInterval(
    () =>
      void ran().then((n) => console.log(`  ${accepted}/${TOTAL} accepted | ${n}/${TOTAL} ran`)),
    1_000,
  );
  await Promise.all(
    Array.from({ length: CONVERSATIONS }, async (_, c) => {
      for (let seq = 0; seq < MESSAGES; seq++) {
        const res = await post(
          (c + seq) % REPLICAS,
          `conversation-${c}`,
          { seq, text: `message ${seq}` },
          false,
        );
        if (res.status === 202) accepted++;
        else refused++;
      }
    }),
  );
  // Every message accepted is committed: wait until all have run.
  let done = await ran();
  for (let last = done, since = Date.now(); done < accepted; done = await ran()) {
    if (done !== last) [last, since] = [done, Date.now()];
    else if (Date.now() - since > 60_000)
      throw new Error(`no progress for 60 s at ${done}/${accepted} ran`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  clearInterval(progress);
  const durationMs = Date.now() - began;
  console.log(`  ${accepted}/${TOTAL} accepted | ${done}/${TOTAL} ran`);

  console.log(
    `\nGET /health (replica 0) -> ${JSON.stringify(await (await fetch(`${urls[0]}/health`)).json())}`,
  );

  for (const r of replicas) r.child.send({ kind: 'stop' });
  const stats = await Promise.all(replicas.map((r) => r.stopped));
  const { rows } = await db.query(
    `SELECT count(*)::int AS conversations, coalesce(sum(runs), 0)::int AS runs,
            coalesce(sum(out_of_order), 0)::int AS out_of_order,
            coalesce(sum(overlapping), 0)::int AS overlaps,
            count(*) FILTER (WHERE replicas & (replicas - 1) <> 0)::int AS spread
       FROM ${ORDER_TABLE} WHERE id <> 'demo'`,
  );
  const t = rows[0] as {
    conversations: number;
    runs: number;
    out_of_order: number;
    overlaps: number;
    spread: number;
  };
  const ok =
    refused === 0 &&
    accepted === TOTAL &&
    t.runs === TOTAL &&
    t.out_of_order === 0 &&
    t.overlaps === 0;
  console.log(`\nSummary
  messages:            ${TOTAL} sent, ${accepted} accepted, ${refused} refused, ${t.runs} ran in ${durationMs} ms
  replicas:            ${stats.map((s, i) => `#${i} ran ${s.completed}`).join(', ')}
  spread:              ${t.spread} of ${t.conversations} conversations ran on more than one replica
  per-session order:   ${t.out_of_order} out-of-order starts
  mutual exclusion:    ${t.overlaps} overlapping runs
  verdict:             ${ok ? `OK: every conversation ran in order, one message at a time, across ${REPLICAS} replicas` : 'FAILED'}`);
  process.exitCode = ok ? 0 : 1;
} catch (error) {
  const cause = (error as Error).cause as Error | undefined;
  console.error(`\nFAILED: ${(error as Error).message}${cause ? ` (${cause.message})` : ''}`);
  for (const r of replicas) if (r.child.exitCode === null) r.child.kill('SIGTERM');
  process.exitCode = 1;
} finally {
  clearInterval(progress);
  await db.end();
}

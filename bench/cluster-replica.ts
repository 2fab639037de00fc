// One replica of the cluster benchmark (a child process): cluster mode with a trivial handler,
// or, with NWP_MODE=pg-boss, plain pg-boss work() on the same queues with the same policy.
//   env NWP_DB, NWP_MODE ('cluster' | 'pg-boss'), NWP_SHARDS, NWP_BATCH, NWP_PREFIX
import { Dispatcher } from '../lib/core/index.js';
import { Cluster } from '../lib/cluster/index.js';

const url = process.env.NWP_DB!;
const shards = Number(process.env.NWP_SHARDS ?? 4);
const batchSize = Number(process.env.NWP_BATCH ?? 50);
const prefix = process.env.NWP_PREFIX ?? 'bench';
let stop: () => Promise<void>;

if (process.env.NWP_MODE === 'pg-boss') {
  const { PgBoss } = await import('pg-boss');
  const boss = new PgBoss({ connectionString: url, schedule: false });
  boss.on('error', (e) => console.error(e));
  await boss.start();
  for (let i = 0; i < shards; i++) {
    await boss.work(
      `${prefix}.${i}`,
      { batchSize, pollingIntervalSeconds: 0.5, burstWhenBatchFull: true },
      async () => {},
    );
  }
  stop = () => boss.stop({ graceful: true, close: true });
} else {
  const pool = new Dispatcher({ lanes: 8 });
  const cluster = new Cluster(pool, {
    connectionString: url,
    shards,
    fetchBatchSize: batchSize,
    maxHeld: batchSize * shards,
    pollIntervalMs: 500,
    queuePrefix: prefix,
  });
  cluster.registerHandler('noop', () => {});
  await cluster.start();
  stop = async () => void (await cluster.stop(10_000));
}

process.on('message', (m: { kind: string }) => {
  if (m.kind === 'stop') void stop().then(() => process.disconnect());
});
process.send!({ kind: 'ready' });

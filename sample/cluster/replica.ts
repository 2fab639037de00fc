// One replica of the cluster sample, started by sample/cluster/main.ts (a child process): the
// sample app in cluster mode on a port of its own, reporting it over IPC.
//   env SAMPLE_DB_URL (the database), SAMPLE_REPLICA (its number)
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Cluster } from '../../lib/index.js';
import { ClusterAppModule } from './cluster-app.module.js';

export type ReplicaMessage =
  | { kind: 'ready'; url: string; pid: number }
  | { kind: 'stopped'; fetched: number; completed: number };

const replica = Number(process.env.SAMPLE_REPLICA);
const app = await NestFactory.create(
  ClusterAppModule.forRoot({ connectionString: process.env.SAMPLE_DB_URL!, replica }),
  { logger: ['warn', 'error'] },
);
// Longer than the client keeps an idle connection, so a loaded replica never closes one
// just as the client sends on it (ECONNRESET).
app.getHttpServer().keepAliveTimeout = 60_000;
await app.listen(0, '127.0.0.1');
const send = (m: ReplicaMessage) => process.send!(m);
send({ kind: 'ready', url: await app.getUrl(), pid: process.pid });

process.on('message', (m: { kind: string }) => {
  if (m.kind !== 'stop') return;
  void (async () => {
    const cluster = app.get(Cluster);
    // Stops fetching, runs what this replica holds, writes every outcome, disconnects.
    await app.close();
    const { fetched, completed } = cluster.stats();
    send({ kind: 'stopped', fetched, completed });
    process.disconnect();
  })();
});

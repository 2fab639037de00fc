/**
 * The cost of open dashboard pages to a pool under keyed load: throughput of keyed submits
 * with 0 and with 10 open event streams, in interleaved rounds (the machine is noisy: read
 * the median ratio). The viewers run in a child process, as browsers would elsewhere, so only
 * the server's share (one stats() per second, one serialized snapshot written per viewer)
 * lands in the measured process.  Run: npm run build && node dist/bench/dashboard.js
 */
import 'reflect-metadata';
import { type ChildProcess, spawn } from 'node:child_process';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WorkerPoolDashboardModule } from '../lib/dashboard/index.js';
import { snapshotOf } from '../lib/dashboard/pool-snapshot.js';
import { Dispatcher, TaskHandler, WorkerPoolModule } from '../lib/index.js';

const ROUNDS = Number(process.env.ROUNDS ?? 10);
const ROUND_MS = Number(process.env.ROUND_MS ?? 2_000);
const BATCH = 20_000;
const SESSIONS = 1_000;
const VIEWERS = 10;

@Injectable()
class Work {
  @TaskHandler('t')
  t(n: number): number {
    return n + 1;
  }
}

@Module({
  imports: [
    WorkerPoolModule.forRoot({ lanes: 8, maxQueued: Infinity }),
    WorkerPoolDashboardModule.forRoot(),
  ],
  providers: [Work],
})
class AppModule {}

const VIEWER_SCRIPT = `
const [url, n] = process.argv.slice(1);
let bytes = 0, opened = 0;
for (let i = 0; i < Number(n); i++) {
  fetch(url).then(async (res) => {
    if (++opened === Number(n)) process.stdout.write('open\\n');
    for await (const chunk of res.body) bytes += chunk.length;
  }).catch(() => {});
}
process.on('SIGTERM', () => { process.stdout.write('bytes ' + bytes + '\\n'); process.exit(0); });
`;

function openViewers(url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', VIEWER_SCRIPT, url, String(VIEWERS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve) =>
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('open') && resolve(child)),
  );
}

async function closeViewers(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function keyedRate(pool: Dispatcher): Promise<number> {
  const began = performance.now();
  let done = 0;
  while (performance.now() - began < ROUND_MS) {
    const work: Promise<unknown>[] = new Array(BATCH);
    for (let i = 0; i < BATCH; i++)
      work[i] = pool.submit('t', i, { sessionId: `s${i % SESSIONS}` });
    await Promise.all(work);
    done += BATCH;
  }
  return done / ((performance.now() - began) / 1000);
}

const app = await NestFactory.create(AppModule, { logger: false });
await app.listen(0, '127.0.0.1');
const url = `${await app.getUrl()}/pool/events`;
const pool = app.get(Dispatcher);
await keyedRate(pool); // warm-up
const ratios: number[] = [];
console.log(
  `keyed submits, ${SESSIONS} sessions, batches of ${BATCH}, ${ROUNDS} rounds of ${ROUND_MS} ms each way`,
);
for (let r = 0; r < ROUNDS; r++) {
  // Alternate which goes first, so drift in the machine's load hits both sides alike.
  const order = r % 2 === 0 ? [0, VIEWERS] : [VIEWERS, 0];
  const rate: Record<number, number> = {};
  for (const viewers of order) {
    const child = viewers > 0 ? await openViewers(url) : undefined;
    rate[viewers] = await keyedRate(pool);
    if (child !== undefined) await closeViewers(child);
  }
  ratios.push(rate[VIEWERS] / rate[0]);
  console.log(
    `round ${r + 1}: 0 streams ${Math.round(rate[0]).toLocaleString('en')}/s, ${VIEWERS} streams ${Math.round(rate[VIEWERS]).toLocaleString('en')}/s, ratio ${(rate[VIEWERS] / rate[0]).toFixed(3)}`,
  );
}
// The server's work per second, whatever the number of viewers: one snapshot of the pool,
// taken with work queued on every lane, and serialized once.
const held: Promise<unknown>[] = [];
for (let i = 0; i < 50_000; i++) held.push(pool.submit('t', i, { sessionId: `s${i % SESSIONS}` }));
const source = [{ name: 'default', dispatcher: pool, autoscaler: null }];
const reps = 2_000;
const t0 = performance.now();
let size = 0;
for (let i = 0; i < reps; i++)
  size += JSON.stringify({ at: i, pools: source.map(snapshotOf) }).length;
const perSnapshotMs = (performance.now() - t0) / reps;
console.log(
  `one snapshot (stats() + health + JSON, ${Math.round(size / reps)} bytes, 50,000 tasks queued): ${(perSnapshotMs * 1000).toFixed(0)} µs, i.e. ${((perSnapshotMs / 1000) * 100).toFixed(3)}% of one core at one per second`,
);
await Promise.all(held);
ratios.sort((a, b) => a - b);
const median = ratios[Math.floor(ratios.length / 2)];
console.log(
  `median ratio (10 streams / 0 streams): ${median.toFixed(3)}; range ${ratios[0].toFixed(3)}..${ratios.at(-1)!.toFixed(3)}`,
);
await app.close();

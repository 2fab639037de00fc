import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import {
  type Autoscaler,
  Dispatcher,
  getAutoscalerToken,
  getDispatcherToken,
} from '../lib/index.js';
import { AppModule } from './app.module.js';
import { runAutoscaleDemo } from './autoscale-demo.js';
import { AuditHandlers } from './chat/audit.handlers.js';
import { runCpuDemo } from './cpu-demo.js';
import { ChatService } from './chat/chat.service.js';
import { OrderLog } from './chat/order-log.js';
import { runLoad } from './load.js';

// The README's main job: boot the sample app, talk to it over HTTP, then drive a chat
// load through it while the pool is resized, and check the per-conversation order.
const CONVERSATIONS = 200;
const MESSAGES = 25;
const SIZES = [4, 8, 12, 6, 3, 10, 2, 16, 5];

const app = await NestFactory.create(AppModule, { logger: ['log', 'warn', 'error'] });
await app.listen(0, '127.0.0.1');
const url = await app.getUrl();
const pool = app.get(Dispatcher);
console.log(`\nSample app listening on ${url}`);
console.log(`Live view of the pools: ${url}/pool (open it now: the load below runs for a while)`);
// SAMPLE_HOLD_S=60 keeps the app (and the page) up that long after the load, to look around.
const holdMs = Number(process.env.SAMPLE_HOLD_S ?? 0) * 1000;

for (const text of ['hello', 'how are you?', 'bye']) {
  const res = await fetch(`${url}/conversations/demo/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  console.log(
    `POST /conversations/demo/messages ${JSON.stringify({ text })} -> ${res.status} ${await res.text()}`,
  );
}

console.log(
  `\nSending ${CONVERSATIONS} conversations x ${MESSAGES} messages, resizing the pool every 150 ms:`,
);
const chat = app.get(ChatService);
const result = await runLoad({
  conversations: CONVERSATIONS,
  messagesPerConversation: MESSAGES,
  send: (conversationId, seq) => chat.send({ conversationId, seq, text: `message ${seq}` }),
  resizeEveryMs: 150,
  resize: (step) => {
    const lanes = SIZES[step % SIZES.length];
    void pool.resize(lanes);
    console.log(`  resized to ${lanes} lanes`);
  },
  progress: (done, total) => {
    const s = pool.stats();
    console.log(
      `  ${done}/${total} done | lanes ${s.lanes.length} | queued ${s.queued} | running ${s.running} | sessions ${s.activeSessions}`,
    );
  },
});

console.log('\nGET /health ->', JSON.stringify(await (await fetch(`${url}/health`)).json()));

console.log(
  '\nAutoscaler on (min 2, max 12): a load of 100 ms tasks that rises and falls, from 3 lanes:',
);
await pool.resize(3);
// Null for a pool without `autoscale`; this one has it (app.module.ts).
const scaler = app.get<Autoscaler, Autoscaler | null>(getAutoscalerToken());
if (scaler === null) throw new Error('the sample pool is configured with autoscale');
scaler.resume();
const demo = await runAutoscaleDemo(pool, scaler, (line) => console.log(line));
const applied = scaler.decisions().filter((d) => d.applied);
const ups = applied.filter((d) => d.direction === 'up').length;
const downs = applied.filter((d) => d.direction === 'down').length;
scaler.pause();

console.log(
  "\nCPU-bound work in worker threads (pool 'cpu'): 24 documents x 3 x 8 chunks of 64 KiB, sha256-chained per document, on 2, then 3, then 2 threads:",
);
const cpu = await runCpuDemo(app.get<Dispatcher>(getDispatcherToken('cpu')), 24, 8, (line) =>
  console.log(line),
);

const stats = (await (await fetch(`${url}/stats`)).json()) as ReturnType<Dispatcher['stats']>;
const log = app.get(OrderLog);
const audit = app.get(AuditHandlers);
if (holdMs > 0) {
  console.log(`\nHolding ${holdMs / 1000} s for the live view at ${url}/pool ...`);
  await new Promise((r) => setTimeout(r, holdMs));
}
await app.close(); // drains: the last audit rows are written before it returns

const ok =
  result.failed === 0 &&
  demo.failed === 0 &&
  cpu.failed === 0 &&
  cpu.outOfOrder === 0 &&
  cpu.wrongDigests === 0 &&
  log.orderViolations === 0 &&
  log.overlapViolations === 0 &&
  audit.outOfOrder === 0 &&
  audit.entries === result.completed + 3;
console.log(`\nSummary
  messages:            ${result.sent} sent, ${result.completed} completed, ${result.failed} failed in ${result.durationMs} ms
  per-session order:   ${log.orderViolations} out-of-order starts
  mutual exclusion:    ${log.overlapViolations} overlapping runs
  audit (batch):       ${audit.entries} rows in ${audit.writes} bulk writes (${(audit.entries / Math.max(1, audit.writes)).toFixed(1)} per write), ${audit.outOfOrder} out of order
  autoscale demo:      ${demo.sent} tasks, ${demo.failed} failed; scaled up ${ups}x and down ${downs}x
  cpu threads:         ${cpu.tasks} chunks in ${cpu.durationMs} ms, ${cpu.failed} failed, ${cpu.outOfOrder} out of order, ${cpu.wrongDigests} wrong digests, ${cpu.arrivals} arrivals (state rebuilt)
  pool (GET /stats):   accepted ${stats.accepted}, completed ${stats.completed}, failed ${stats.failed}, lanes at end ${stats.lanes.length}
  verdict:             ${ok ? 'OK: every conversation ran in order, one message at a time' : 'FAILED'}`);
process.exitCode = ok ? 0 : 1;

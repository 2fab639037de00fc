import { Dispatcher } from '../lib/core/index.js';
import { OrderLog, runLoad } from './load.js';

// Temporary driver on the bare engine; the Nest sample app replaces it.
const log = new OrderLog();
const pool = new Dispatcher({ lanes: 4, maxLanes: 16 });
pool.registerHandler('chat.message', async (m: { sessionId: string; seq: number }) => {
  log.started(m.sessionId, m.seq);
  await new Promise((r) => setTimeout(r, Math.random() * 3));
  log.finished(m.sessionId);
});
pool.start();
const result = await runLoad(
  {
    sessions: 200,
    messagesPerSession: 25,
    send: (sessionId, seq) => pool.submit('chat.message', { sessionId, seq }, { sessionId }),
    resize: (step) => pool.resize([4, 8, 12, 6, 3, 10][step % 6]),
    resizeEveryMs: 100,
    progress: (line) => console.log(line),
  },
  log,
);
console.log(result);
process.exitCode = result.orderViolations + result.overlapViolations + result.failed === 0 ? 0 : 1;

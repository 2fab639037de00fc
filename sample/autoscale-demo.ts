import type { Autoscaler, Dispatcher } from '../lib/index.js';

/** Phases of an open-loop load (tasks per second), as in the seed's scenario. */
export const PHASES = [
  { rate: 10, seconds: 4 },
  { rate: 30, seconds: 5 },
  { rate: 50, seconds: 6 },
  { rate: 15, seconds: 5 },
  { rate: 10, seconds: 6 },
];

/**
 * Sends `assistant.reply` tasks at each phase's rate from 300 users and prints, every
 * second, the rate, the lanes and the autoscaler's latest decision.
 */
export async function runAutoscaleDemo(
  pool: Dispatcher,
  scaler: Autoscaler,
  print: (line: string) => void,
) {
  let sent = 0;
  let failed = 0;
  const work: Promise<unknown>[] = [];
  for (const phase of PHASES) {
    for (let second = 0; second < phase.seconds; second++) {
      const tick = Date.now();
      for (let i = 0; i < phase.rate; i++) {
        await new Promise((r) =>
          setTimeout(r, Math.max(0, tick + (i * 1000) / phase.rate - Date.now())),
        );
        const userId = `user-${Math.floor(Math.random() * 300)}`;
        work.push(
          pool
            .submit('assistant.reply', { userId, text: `q${sent++}` }, { sessionId: userId })
            .catch(() => failed++),
        );
      }
      await new Promise((r) => setTimeout(r, Math.max(0, tick + 1000 - Date.now())));
      const s = pool.stats();
      const d = scaler.decisions().at(-1);
      const lanes = s.lanes.filter((l) => !l.retiring).length;
      print(
        `  ${String(phase.rate).padStart(2)} tasks/s | lanes ${String(lanes).padStart(2)} ${'#'.repeat(lanes).padEnd(12)} | queued ${String(s.queued).padStart(3)} | ${
          d
            ? `${d.direction}${d.direction !== 'hold' && !d.applied ? ' (paused)' : ''}: ${d.reason}`
            : ''
        }`,
      );
    }
  }
  await Promise.all(work);
  return { sent, failed };
}

import { Dispatcher } from '../../lib/core/index.js';
import { rng } from '../support/deferred.js';

/** Waits `n` microtask hops: a duration that depends on no clock, so runs replay exactly. */
async function hops(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await undefined;
}

/**
 * 1,000 sessions x 20 tasks with random durations while lanes are added and removed every
 * few microtask hops: for every session, start order = submission order, never two
 * running at once, every task settled exactly once.
 */
describe('contract under load and resizes', () => {
  it.each([1, 2])(
    'holds for 1,000 sessions x 20 tasks (lane concurrency %i)',
    async (laneConcurrency) => {
      const random = rng(0xc0ffee + laneConcurrency);
      const pool = new Dispatcher({ lanes: 4, maxLanes: 16, laneConcurrency, maxQueued: Infinity });
      const running = new Map<string, number>();
      const started = new Map<string, number[]>();
      let overlaps = 0;
      pool.registerHandler('work', async ({ s, i, ms }: { s: string; i: number; ms: number }) => {
        running.set(s, (running.get(s) ?? 0) + 1);
        if (running.get(s)! > 1) overlaps++;
        (started.get(s) ?? started.set(s, []).get(s)!).push(i);
        await hops(ms);
        running.set(s, running.get(s)! - 1);
        if (ms % 7 === 0) throw new Error(`fail ${s}/${i}`);
        return i;
      });
      pool.start();

      const settledCount = new Map<string, number>();
      const all: Promise<void>[] = [];
      const SESSIONS = 1_000;
      const TASKS = 20;
      for (let i = 0; i < TASKS; i++) {
        for (let k = 0; k < SESSIONS; k++) {
          const s = `session-${k}`;
          const key = `${s}#${i}`;
          all.push(
            pool
              .submit('work', { s, i, ms: Math.floor(random() * 40) }, { sessionId: s })
              .then(
                () => undefined,
                () => undefined,
              )
              .finally(() => settledCount.set(key, (settledCount.get(key) ?? 0) + 1)),
          );
        }
      }

      let done = false;
      let resizes = 0;
      void Promise.all(all).then(() => (done = true));
      while (!done) {
        await hops(7);
        const lanes = pool.stats().lanes.filter((l) => !l.retiring);
        if (random() < 0.5 && lanes.length < 16) pool.addLane();
        else if (lanes.length > 1)
          void pool.removeLane(lanes[Math.floor(random() * lanes.length)].id);
        resizes++;
      }

      expect(resizes).toBeGreaterThan(100);
      expect(overlaps).toBe(0);
      expect(started.size).toBe(SESSIONS);
      for (const order of started.values())
        expect(order).toEqual(Array.from({ length: TASKS }, (_, i) => i));
      expect(settledCount.size).toBe(SESSIONS * TASKS);
      expect([...settledCount.values()].every((n) => n === 1)).toBe(true);
      const stats = pool.stats();
      expect(stats.completed + stats.failed).toBe(SESSIONS * TASKS);
      expect(stats).toMatchObject({ queued: 0, running: 0, activeSessions: 0 });
      expect(stats.failed).toBeGreaterThan(0);
    },
  );
});

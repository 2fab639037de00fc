import { Dispatcher } from '../../lib/core/index.js';
import { Lane } from '../../lib/core/lanes/lane.js';
import { Session } from '../../lib/core/lanes/session.js';
import { rng } from '../support/deferred.js';

describe('Lane', () => {
  it('counts its load as queued plus running, and holds sessions and tasks in one ready queue', () => {
    const lane = new Lane(3, 2);
    expect(lane).toMatchObject({ id: 3, concurrency: 2, load: 0, slots: 0, removed: false });
    lane.queued = 4;
    lane.running = 2;
    expect(lane.load).toBe(6);
    const s = new Session('s', lane);
    lane.ready.push(s);
    expect(lane.ready.shift()).toBe(s);
  });

  it.each([false, true])(
    'never runs more than its concurrency, keyed and unkeyed, through resizes (stealing: %s)',
    async (stealUnkeyed) => {
      const random = rng(7);
      const pool = new Dispatcher({
        lanes: 3,
        laneConcurrency: 3,
        maxLanes: 6,
        maxQueued: Infinity,
        stealUnkeyed,
      });
      let worst = 0;
      const check = () => {
        for (const lane of pool.stats().lanes)
          worst = Math.max(worst, lane.running / lane.concurrency);
      };
      pool.registerHandler('t', async (hops: number) => {
        check();
        for (let i = 0; i < hops; i++) await undefined;
      });
      pool.start();
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < 3_000; i++) {
        const keyed = random() < 0.7;
        work.push(
          pool.submit(
            't',
            Math.floor(random() * 20),
            keyed ? { sessionId: `s${i % 50}` } : undefined,
          ),
        );
        if (i % 200 === 0) void pool.resize(1 + Math.floor(random() * 6));
      }
      await Promise.all(work);
      expect(worst).toBeGreaterThan(0.5); // the lanes were really used in parallel ...
      expect(worst).toBeLessThanOrEqual(1); // ... and never beyond their concurrency
      expect(pool.stats()).toMatchObject({ completed: 3_000, queued: 0, running: 0 });
      expect(pool.stats().lanes.every((l) => l.queued === 0 && l.running === 0)).toBe(true);
    },
  );
});

import { Dispatcher, TaskCancelledError } from '../../lib/core/index.js';
import { deferred, flush } from '../support/deferred.js';
import { collectGarbage } from '../support/gc.js';

/**
 * Queue limits bound memory, cancelled work included: tasks withdrawn (their caller aborted)
 * while their lane is blocked keep neither their payloads nor, beyond a bounded share, their
 * entries in the lane's ready queue.
 */

/** The ready entries of every lane (an internal count: tombstones included). */
function readyEntries(pool: Dispatcher): number {
  const scheduler = (pool as unknown as { scheduler: { lanes: Map<number, Lane> } }).scheduler;
  let n = 0;
  for (const lane of scheduler.lanes.values()) n += lane.ready.length;
  return n;
}
interface Lane {
  ready: { length: number };
}

async function blockedPool() {
  const pool = new Dispatcher({ lanes: 1, maxQueued: 1000 });
  const hold = deferred();
  pool.registerHandler('hold', () => hold.promise);
  pool.registerHandler('t', () => 'ran');
  pool.start();
  const held = pool.submit('hold', null);
  await flush(); // it runs: the lane is blocked
  expect(pool.stats().running).toBe(1);
  return { pool, hold, held };
}

function submitThenAbort(pool: Dispatcher, n: number) {
  const refs: WeakRef<object>[] = [];
  const cancelled: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const payload = { bytes: new Uint8Array(2_048) };
    refs.push(new WeakRef(payload));
    const controller = new AbortController();
    const promise = pool.submit('t', payload, { signal: controller.signal });
    controller.abort();
    cancelled.push(promise.catch((e: unknown) => e));
  }
  return { refs, cancelled };
}

describe('tasks withdrawn while their lane is blocked', () => {
  it('release their payloads at once (unkeyed tasks stay behind as entries, without payloads)', async () => {
    const { pool, hold, held } = await blockedPool();
    // Submitted from a plain function: a suspended async frame would keep its last payload.
    const { refs, cancelled } = submitThenAbort(pool, 2_000);
    for (const e of await Promise.all(cancelled)) expect(e).toBeInstanceOf(TaskCancelledError);
    await collectGarbage();
    expect(refs.map((r, i) => (r.deref() === undefined ? -1 : i)).filter((i) => i >= 0)).toEqual(
      [],
    );
    hold.resolve();
    await held;
  });

  it.each([
    ['unkeyed', (_: number) => undefined],
    ['keyed, one session each', (i: number) => `s${i}`],
  ])(
    '%s: their ready entries stay within twice the live ones plus one (20,000 submit-then-abort beside 500 live tasks)',
    async (_, sessionOf) => {
      const { pool, hold, held } = await blockedPool();
      const live = Array.from({ length: 500 }, (_, i) =>
        pool.submit('t', null, { sessionId: sessionOf(100_000 + i) }),
      );
      let most = 0;
      for (let i = 0; i < 20_000; i++) {
        const controller = new AbortController();
        pool
          .submit('t', null, { signal: controller.signal, sessionId: sessionOf(i) })
          .catch(() => undefined);
        controller.abort();
        most = Math.max(most, readyEntries(pool));
      }
      expect(pool.stats().queued).toBe(500);
      // 500 live entries; without compaction there would be 20,500.
      expect(most).toBeLessThanOrEqual(2 * 500 + 1);
      hold.resolve();
      await expect(Promise.all([held, ...live])).resolves.toHaveLength(501);
      expect(readyEntries(pool)).toBe(0);
    },
  );
});

import { Dispatcher } from '../../lib/core/index.js';
import { deferred, flush } from '../support/deferred.js';
import { sessionsOn } from '../support/threads.js';

function setup(stealUnkeyed: boolean | undefined) {
  const pool = new Dispatcher({ lanes: 2, stealUnkeyed });
  const hold = deferred();
  const ran: Array<[string, number]> = [];
  pool.registerHandler('hold', () => hold.promise);
  pool.registerHandler('t', (p: string, ctx) => void ran.push([p, ctx.laneId]));
  pool.start();
  return { pool, hold, ran };
}

describe('unkeyed placement', () => {
  it('round robin puts each unkeyed task on the next lane', async () => {
    const pool = new Dispatcher({ lanes: 3, unkeyedPlacement: 'round-robin' });
    const lanes: number[] = [];
    pool.registerHandler('t', (_: unknown, ctx) => void lanes.push(ctx.laneId));
    const work = Array.from({ length: 6 }, () => pool.submit('t', null));
    pool.start();
    await Promise.all(work);
    expect(lanes.sort()).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it.each([true, undefined])(
    'with stealing (stealUnkeyed: %s, the default when undefined), a lane that runs dry takes a waiting unkeyed task from a busy lane',
    async (steal) => {
      const { pool, hold, ran } = setup(steal);
      const held = pool.submit('hold', null); // lane A, runs long
      const quick = pool.submit('t', 'quick'); // lane B
      const stuck = pool.submit('t', 'u1'); // tie: lands behind the long task on lane A
      const other = pool.submit('t', 'u2'); // lane B
      await Promise.all([quick, stuck, other]);
      const laneOfHold = pool.stats().lanes.find((l) => l.running === 1)!.id;
      expect(ran.map(([p]) => p).sort()).toEqual(['quick', 'u1', 'u2']);
      expect(ran.every(([, lane]) => lane !== laneOfHold)).toBe(true);
      expect(pool.stats()).toMatchObject({ queued: 0, running: 1 });
      hold.resolve();
      await held;
      expect(pool.stats().lanes.every((l) => l.queued === 0)).toBe(true);
    },
  );

  it.each(['least-loaded', 'round-robin'] as const)(
    'with %s placement, idle lanes keep stealing beyond the 64-entry scan window: 300 unkeyed tasks all run beside one long handler',
    async (unkeyedPlacement) => {
      const pool = new Dispatcher({ lanes: 3, unkeyedPlacement, stealUnkeyed: true });
      const hold = deferred();
      const ran: number[] = [];
      pool.registerHandler('hold', () => hold.promise);
      pool.registerHandler('t', (_: unknown, ctx) => void ran.push(ctx.laneId));
      const held = pool.submit('hold', null);
      const work = Array.from({ length: 300 }, () => pool.submit('t', null));
      pool.start();
      // Handlers here settle in microtasks only: one macrotask turn runs all that can run.
      await new Promise((resolve) => setImmediate(resolve));
      const blocked = pool.stats().lanes.find((l) => l.running === 1)!.id;
      // About 100 of them were placed behind the long handler: idle lanes took every one.
      expect(ran).toHaveLength(300);
      expect(ran.includes(blocked)).toBe(false);
      expect(pool.stats()).toMatchObject({ queued: 0, running: 1 });
      hold.resolve();
      await Promise.all([held, ...work]);
    },
  );

  it('without stealing the same task waits for its lane', async () => {
    const { pool, hold, ran } = setup(false);
    const held = pool.submit('hold', null);
    const rest = ['quick', 'u1', 'u2'].map((p) => pool.submit('t', p));
    await flush(50);
    expect(ran.map(([p]) => p).sort()).toEqual(['quick', 'u2']);
    hold.resolve();
    await Promise.all([held, ...rest]);
  });

  it('never steals keyed work: a lane that runs dry takes an unkeyed task from a busy lane, not a waiting session', async () => {
    const pool = new Dispatcher({ lanes: 2, stealUnkeyed: true, unkeyedPlacement: 'round-robin' });
    const [k1, k2] = sessionsOn(0, [0, 1], 2, 'a');
    const [b] = sessionsOn(1, [0, 1], 1, 'b');
    const gateA = deferred();
    const gateB = deferred();
    const ran: Array<[string, number]> = [];
    pool.registerHandler('t', async (p: string, ctx) => {
      ran.push([p, ctx.laneId]);
      if (p === 'k1') await gateA.promise;
      if (p === 'b') await gateB.promise;
    });
    pool.start();
    const work = [
      pool.submit('t', 'b', { sessionId: b }), // lane 1, held
      pool.submit('t', 'k1', { sessionId: k1 }), // lane 0, held
      pool.submit('t', 'k2', { sessionId: k2 }), // lane 0: its session is free, its lane busy
      pool.submit('t', 'u1'), // one unkeyed task per lane, behind the held ones
      pool.submit('t', 'u2'),
    ];
    await flush(20);
    expect(ran).toEqual([
      ['b', 1],
      ['k1', 0],
    ]);
    gateB.resolve(); // lane 1 runs dry: it takes lane 0's unkeyed task, never k2
    await flush(20);
    expect(ran.slice(2).sort()).toEqual([
      ['u1', 1],
      ['u2', 1],
    ]);
    expect(pool.stats()).toMatchObject({ running: 1, queued: 1 });
    gateA.resolve();
    await Promise.all(work);
    expect(ran.at(-1)).toEqual(['k2', 0]);
  });

  it('names bad placement options', () => {
    expect(() => new Dispatcher({ unkeyedPlacement: 'random' as never })).toThrow(
      /'least-loaded' or 'round-robin'/,
    );
    expect(() => new Dispatcher({ stealUnkeyed: 1 as never })).toThrow(/stealUnkeyed/);
  });
});

import { Dispatcher } from '../../lib/core/index.js';
import { BoundedPlacement } from '../../lib/core/placement/bounded-placement.js';
import { LeastLoadedPlacement } from '../../lib/core/placement/least-loaded-placement.js';
import { RingPlacement } from '../../lib/core/placement/ring-placement.js';
import { SlotTable } from '../../lib/core/placement/slot-table.js';
import type {
  LaneLoads,
  PlacementKind,
  SessionPlacement,
} from '../../lib/core/placement/session-placement.js';
import { deferred, flush } from '../support/deferred.js';

/** Lanes 0..n-1 with settable loads, as the engine shows them to a policy. */
function lanesOf(policy: SessionPlacement, n: number) {
  const live = Array.from({ length: n }, (_, id) => ({ id, load: 0 }));
  for (const l of live) policy.added([l.id]);
  const loads: LaneLoads = { live, get: (id) => live.find((l) => l.id === id) };
  return { live, loads };
}

/** Places `count` sessions that each stay active (each adds one to its lane's load). */
function placeActive(policy: SessionPlacement, n: number, count: number, family = 'session') {
  const { live, loads } = lanesOf(policy, n);
  for (let i = 0; i < count; i++) {
    const lane = policy.place(`${family}-${i}`, loads);
    live.find((l) => l.id === lane)!.load++;
  }
  return live.map((l) => l.load);
}

describe('session placement policies', () => {
  it.each([0, 0.05, 0.25, 1])(
    'bounded (e = %s): 10,000 active sessions on 8 lanes, no lane above ceil((1 + e) x mean)',
    (e) => {
      for (const family of ['session', 'user']) {
        const counts = placeActive(new BoundedPlacement(e), 8, 10_000, family);
        expect(counts.reduce((a, b) => a + b)).toBe(10_000);
        expect(Math.max(...counts)).toBeLessThanOrEqual(Math.ceil((1 + e) * 1_250));
      }
    },
  );

  it('the bound for e = 0 fails for the plain hash (so the check above can fail)', () => {
    for (const family of ['session', 'user']) {
      const counts = placeActive(new RingPlacement(), 8, 10_000, family);
      expect(Math.max(...counts)).toBeGreaterThan(1_250);
    }
  });

  it('least-loaded: 10,000 active sessions on 8 lanes differ by at most one', () => {
    const counts = placeActive(new LeastLoadedPlacement(), 8, 10_000);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  it.each(['bounded', 'least-loaded'] as const)(
    '%s places a session on its ring owner while loads are even',
    (kind) => {
      const policy = kind === 'bounded' ? new BoundedPlacement(0.25) : new LeastLoadedPlacement();
      const { loads } = lanesOf(policy, 8);
      for (let i = 0; i < 200; i++)
        expect(policy.place(`s-${i}`, loads)).toBe(policy.home(`s-${i}`));
    },
  );

  it('bounded walks the hash preference order: a full home hands over to the next lane in that order, not to any lane', () => {
    const policy = new BoundedPlacement(0);
    const { live, loads } = lanesOf(policy, 4);
    const id = 'conversation-7';
    const owner = policy.home(id);
    live[owner].load = 3; // mean with this session: 1, cap 1; every other lane is empty
    const second = policy.place(id, loads);
    expect(second).not.toBe(owner);
    // Every other lane is empty: the second lane in its preference order takes it.
    const table = new SlotTable();
    for (const l of live) table.add(l.id);
    expect(table.preference(id)[0]).toBe(owner);
    expect(second).toBe(table.preference(id)[1]);
  });

  it('ring: idle ids move about 1/N on 10 -> 11 and 11 -> 10 lanes (an arbitrary lane removed), none between surviving lanes', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `session-${i}`);
    const ring = new RingPlacement();
    for (let l = 0; l < 10; l++) ring.added([l]);
    const before = ids.map((id) => ring.home(id));
    ring.added([10]);
    const grown = ids.map((id) => ring.home(id));
    const movedUp = ids.filter((_, i) => grown[i] !== before[i]);
    expect(movedUp.length / ids.length).toBeLessThanOrEqual(1.2 / 11);
    expect(movedUp.length).toBeGreaterThan(0);
    ids.forEach((_, i) => grown[i] !== before[i] && expect(grown[i]).toBe(10));
    ring.removed(4);
    const shrunk = ids.map((id) => ring.home(id));
    let moved = 0;
    ids.forEach((_, i) => {
      if (shrunk[i] === grown[i]) return;
      moved++;
      expect(grown[i]).toBe(4); // only lane 4's ids move
      expect(shrunk[i]).not.toBe(4);
    });
    expect(moved / ids.length).toBeLessThanOrEqual(1.2 / 10);
  });
});

/** Where the session's work is, or where its next task would go now. */
const where = (pool: Dispatcher, id: string): number => pool.sessionInfo(id).laneId;

/** Session ids whose ring owner, with lanes 0..n-1, is `lane`. */
function idsHomedOn(lane: number, n: number, count: number, prefix = 's'): string[] {
  const ring = new RingPlacement();
  for (let l = 0; l < n; l++) ring.added([l]);
  const ids: string[] = [];
  for (let i = 0; ids.length < count; i++)
    if (ring.home(`${prefix}-${i}`) === lane) ids.push(`${prefix}-${i}`);
  return ids;
}

describe('placement in the engine', () => {
  it.each(['ring', 'bounded', 'least-loaded'] as const)(
    '%s: a session with running and queued work never moves, however loads change meanwhile',
    async (placement) => {
      const pool = new Dispatcher({ lanes: 4, placement });
      const hold = deferred();
      const ran: Array<[string, number]> = [];
      pool.registerHandler('hold', () => hold.promise);
      pool.registerHandler('t', (p: string, ctx) => void ran.push([p, ctx.laneId]));
      pool.start();
      const first = pool.submit('hold', null, { sessionId: 'sticky' });
      await flush();
      const lane = where(pool, 'sticky');
      // Pile load on its lane from other sessions homed there: a new session would go elsewhere.
      const others = idsHomedOn(lane, 4, 12).map((id) =>
        pool.submit('hold', null, { sessionId: id }),
      );
      const next = pool.submit('t', 'next', { sessionId: 'sticky' });
      expect(where(pool, 'sticky')).toBe(lane);
      hold.resolve();
      await Promise.all([first, next, ...others]);
      expect(ran).toEqual([['next', lane]]);
    },
  );

  it.each(['bounded', 'ring'] as const)(
    '%s: a kept idle session is placed again when it wakes (bounded: off its full home; ring: home)',
    async (placement) => {
      const pool = new Dispatcher({ lanes: 4, placement, balanceFactor: 0.25 });
      const hold = deferred();
      const ran: number[] = [];
      pool.registerHandler('hold', () => hold.promise);
      pool.registerHandler('t', (_: unknown, ctx) => void ran.push(ctx.laneId));
      pool.start();
      const [id, heavy] = idsHomedOn(0, 4, 2, 'w');
      await pool.submit('t', null, { sessionId: id }); // idle now, kept in the idle cache
      expect(pool.stats().activeSessions).toBe(0);
      // One session on lane 0 with 6 outstanding tasks: with the waking one, the cap is
      // ceil(1.25 x 7 / 4) = 3, so bounded must look past lane 0.
      const held = [pool.submit('hold', null, { sessionId: heavy })];
      for (let i = 0; i < 5; i++) held.push(pool.submit('t', null, { sessionId: heavy }));
      expect(where(pool, heavy)).toBe(0);
      const back = pool.submit('t', null, { sessionId: id });
      const lane = where(pool, id);
      if (placement === 'ring') expect(lane).toBe(0);
      else expect(lane).not.toBe(0);
      await flush();
      hold.resolve();
      await Promise.all([back, ...held]);
      ran.length = 2; // the heavy session's tasks ran after
      expect(ran).toEqual([0, lane]);
    },
  );

  it.each(['ring', 'bounded', 'least-loaded'] as const)(
    '%s: removing lane 2 of 5 moves only its waiting sessions, each to where sessionInfo says, and they run there',
    async (placement: PlacementKind) => {
      const pool = new Dispatcher({ lanes: 5, placement });
      const ran = new Map<string, number>();
      pool.registerHandler('t', (p: string, ctx) => void ran.set(p, ctx.laneId));
      const ids = Array.from({ length: 60 }, (_, i) => `s-${i}`);
      const work = ids.map((id) => pool.submit('t', id, { sessionId: id })); // not started: all wait
      const before = new Map(ids.map((id) => [id, where(pool, id)]));
      expect(new Set(before.values()).has(2)).toBe(true);
      await pool.removeLane(2);
      const after = new Map(ids.map((id) => [id, where(pool, id)]));
      for (const id of ids) {
        if (before.get(id) !== 2) expect(after.get(id)).toBe(before.get(id));
        else expect(after.get(id)).not.toBe(2);
      }
      if (placement === 'ring') {
        // The pool's table: lanes 0-4 added in order, then lane 2 removed.
        const ring = new RingPlacement();
        for (const l of [0, 1, 2, 3, 4]) ring.added([l]);
        ring.removed(2);
        for (const id of ids) expect(after.get(id)).toBe(ring.home(id));
      }
      pool.start();
      await Promise.all(work);
      for (const id of ids) expect(ran.get(id)).toBe(after.get(id));
    },
  );

  it.each(['ring', 'bounded', 'least-loaded'] as const)(
    '%s: a lane removed while sessions are being placed: none lands on it, its running session moves after its task',
    async (placement: PlacementKind) => {
      const pool = new Dispatcher({ lanes: 4, placement });
      const hold = deferred();
      const ran: Array<[string, number]> = [];
      pool.registerHandler('hold', () => hold.promise);
      pool.registerHandler('t', (p: string, ctx) => void ran.push([p, ctx.laneId]));
      pool.start();
      const [busy] = idsHomedOn(1, 4, 1, 'busy');
      const held = pool.submit('hold', null, { sessionId: busy });
      await flush();
      expect(where(pool, busy)).toBe(1);
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < 40; i++) {
        work.push(pool.submit('t', `a-${i}`, { sessionId: `a-${i}` }));
        if (i === 20) void pool.removeLane(1);
        if (i > 20) expect(where(pool, `a-${i}`)).not.toBe(1);
      }
      const after = pool.submit('t', 'busy-next', { sessionId: busy });
      expect(where(pool, busy)).toBe(1); // still running there: it moves only once that settles
      hold.resolve();
      await Promise.all([held, after, ...work]);
      expect(ran).toHaveLength(41);
      for (const [p, lane] of ran) if (p !== 'busy-next' && p > 'a-20') expect(lane).not.toBe(1);
      expect(ran.find(([p]) => p === 'busy-next')![1]).not.toBe(1);
      expect(pool.stats().lanes.map((l) => l.id)).toEqual([0, 2, 3]);
    },
  );

  it('ring: a pool built with 100 lanes, then resized to 2,000 (each told to the table in one go), places idle ids where a table given the lanes one by one does', async () => {
    const pool = new Dispatcher({ lanes: 100, maxLanes: 2_000, placement: 'ring' });
    const ids = Array.from({ length: 5_000 }, (_, i) => `s-${i}`);
    const ring = new RingPlacement();
    for (let l = 0; l < 100; l++) ring.added([l]);
    expect(ids.map((id) => pool.sessionInfo(id).laneId)).toEqual(ids.map((id) => ring.home(id)));
    await pool.resize(2_000);
    for (let l = 100; l < 2_000; l++) ring.added([l]);
    expect(ids.map((id) => pool.sessionInfo(id).laneId)).toEqual(ids.map((id) => ring.home(id)));
    await pool.drain();
  });
});

describe('the default placement (in-process lanes)', () => {
  it('spreads 50 newly active sessions over 4 lanes evenly (the ring puts 16 on one lane)', async () => {
    const pool = new Dispatcher({ lanes: 4 });
    const hold = deferred();
    pool.registerHandler('hold', () => hold.promise);
    pool.start();
    const work = Array.from({ length: 50 }, (_, i) =>
      pool.submit('hold', null, { sessionId: `session-${i}` }),
    );
    const perLane = pool.stats().lanes.map((l) => l.queued + l.running);
    expect(Math.max(...perLane)).toBe(13);
    hold.resolve();
    await Promise.all(work);
  });
});

import { Dispatcher } from '../../lib/core/index.js';
import { IDLE_SESSIONS_KEPT, type Scheduler } from '../../lib/core/scheduler.js';

// The idle-session cache: bounded, invisible in stats, and never in the way of the ring.
function pool(lanes = 4, laneConcurrency = 1): { pool: Dispatcher; scheduler: Scheduler } {
  const p = new Dispatcher({ lanes, maxLanes: 16, laneConcurrency });
  return { pool: p, scheduler: (p as unknown as { scheduler: Scheduler }).scheduler };
}

function laneOf(scheduler: Scheduler, id: string): number {
  return scheduler.sessions.get(id)!.lane.id;
}

describe('idle-session cache', () => {
  it('keeps at most IDLE_SESSIONS_KEPT idle sessions, and counts none of them as active', async () => {
    const { pool: p, scheduler } = pool();
    p.registerHandler('t', () => undefined);
    p.start();
    const n = IDLE_SESSIONS_KEPT * 3;
    await Promise.all(
      Array.from({ length: n }, (_, i) => p.submit('t', i, { sessionId: `s${i}` })),
    );
    expect(scheduler.sessions.size).toBe(IDLE_SESSIONS_KEPT);
    expect(scheduler.idleKept).toBe(IDLE_SESSIONS_KEPT);
    expect(p.stats().activeSessions).toBe(0);
    // The newest idle sessions are the ones kept.
    expect(scheduler.sessions.has(`s${n - 1}`)).toBe(true);
    expect(scheduler.sessions.has('s0')).toBe(false);
  });

  it('reuses a kept session in order and counts it active again while it has work', async () => {
    const { pool: p, scheduler } = pool();
    const seen: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    p.registerHandler('t', async (x: number) => {
      seen.push(x);
      if (x === 2) await gate;
    });
    p.start();
    await p.submit('t', 1, { sessionId: 'a' });
    const kept = scheduler.sessions.get('a');
    expect(kept).toBeDefined();
    expect(p.stats().activeSessions).toBe(0);
    const runs = [2, 3, 4].map((x) => p.submit('t', x, { sessionId: 'a' }));
    expect(scheduler.sessions.get('a')).toBe(kept);
    expect(p.stats().activeSessions).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([1, 2]);
    release();
    await Promise.all(runs);
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(p.stats().activeSessions).toBe(0);
    expect(scheduler.idleKept).toBe(1);
  });

  it('a session active again while its old cache entry ages out stays, and is kept once idle', async () => {
    const { pool: p, scheduler } = pool(4, 2); // a second slot per lane: `a` holds one
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    p.registerHandler('t', async (x: string) => {
      if (x === 'hold') await gate;
    });
    p.start();
    await p.submit('t', 'x', { sessionId: 'a' });
    const held = p.submit('t', 'hold', { sessionId: 'a' });
    // Push `a`'s entry out of the cache's FIFO while `a` is running.
    await Promise.all(
      Array.from({ length: IDLE_SESSIONS_KEPT + 10 }, (_, i) =>
        p.submit('t', 'x', { sessionId: `s${i}` }),
      ),
    );
    expect(scheduler.sessions.has('a')).toBe(true);
    expect(p.stats().activeSessions).toBe(1);
    release();
    await held;
    expect(p.stats().activeSessions).toBe(0);
    expect(scheduler.sessions.has('a')).toBe(true);
    expect(scheduler.sessions.size).toBeLessThanOrEqual(IDLE_SESSIONS_KEPT);
  });

  it('is emptied when the ring changes, so idle sessions follow the ring', async () => {
    const { pool: p, scheduler } = pool(2);
    p.registerHandler('t', () => undefined);
    p.start();
    const ids = Array.from({ length: 200 }, (_, i) => `k${i}`);
    await Promise.all(ids.map((id) => p.submit('t', 0, { sessionId: id })));
    expect(scheduler.idleKept).toBe(200);
    p.addLane();
    expect(scheduler.sessions.size).toBe(0);
    expect(scheduler.idleKept).toBe(0);
    await Promise.all(ids.map((id) => p.submit('t', 0, { sessionId: id })));
    // Each re-created session is where a fresh pool of 3 lanes would put it.
    const { pool: fresh, scheduler: ref } = pool(3);
    fresh.registerHandler('t', () => undefined);
    fresh.start();
    await Promise.all(ids.map((id) => fresh.submit('t', 0, { sessionId: id })));
    expect(ids.map((id) => laneOf(scheduler, id))).toEqual(ids.map((id) => laneOf(ref, id)));
    expect(new Set(ids.map((id) => laneOf(scheduler, id))).has(2)).toBe(true);
    await p.removeLane(2);
    expect(scheduler.idleKept).toBe(0);
    expect(scheduler.sessions.size).toBe(0);
  });

  it('does not keep a session homed by an older ring (it kept its lane while active)', async () => {
    const { pool: p, scheduler } = pool(2);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    p.registerHandler('t', () => gate);
    p.start();
    const run = p.submit('t', 0, { sessionId: 'a' });
    await new Promise((r) => setImmediate(r));
    p.addLane();
    release();
    await run;
    expect(scheduler.sessions.has('a')).toBe(false);
    expect(scheduler.idleKept).toBe(0);
  });

  it('is emptied when the pool drains', async () => {
    const { pool: p, scheduler } = pool();
    p.registerHandler('t', () => undefined);
    p.start();
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => p.submit('t', i, { sessionId: `s${i}` })),
    );
    expect(scheduler.idleKept).toBe(50);
    await p.drain(0);
    expect(scheduler.idleKept).toBe(0);
    expect(scheduler.sessions.size).toBe(0);
  });
});

/**
 * Scenario 6: what resizing costs while work is queued.
 *
 * removeLane() moves the lane's waiting sessions synchronously and resolves once the
 * lane's running task has settled; we time both parts, and addLane() (a ring rebuild).
 * Under load, handlers yield to the event loop (setImmediate) so the pool is busy across
 * macrotasks, and every task checks the contract: per-session FIFO and one at a time.
 */
import { Dispatcher } from '../lib/core/index.js';
import { MAX_LANES } from '../lib/core/options.js';
import { gc, Latch, median, now, sleep, tick } from './harness.js';
import { CONCURRENCY } from './peers.js';

export interface Timing {
  median: number;
  max: number;
}

export interface ResizeResult {
  underLoad: {
    sessions: number;
    tasksPerSession: number;
    cycles: number;
    /** Tasks waiting on the removed lane at removal, moved to other lanes. */
    tasksMoved: Timing;
    removeSyncMs: Timing;
    removeResolvedMs: Timing;
    addLaneMs: Timing;
    contractViolations: number;
    completed: number;
  };
  backlog: {
    sessions: number;
    repeats: number;
    tasksMoved: number;
    removeSyncMs: Timing;
    removeResolvedMs: Timing;
    addLaneMs: Timing;
  };
  /** Lane counts up to the documented maximum (issue 18): each time includes the ring rebuild. */
  scale: {
    repeats: number;
    rows: Array<{ name: string; lanesAdded: number; ms: Timing; usPerLane: number }>;
  };
}

const timing = (xs: number[]): Timing => ({ median: median(xs), max: Math.max(...xs) });

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Step {
  s: string;
  seq: number;
}

async function underLoad(sessions: number, perSession: number, cycles: number) {
  const latch = new Latch();
  const running = new Set<string>();
  const last = new Map<string, number>();
  let violations = 0;
  const pool = new Dispatcher({
    lanes: CONCURRENCY,
    maxLanes: CONCURRENCY * 2,
    laneConcurrency: 1,
    maxQueued: Infinity,
    maxQueuedPerSession: Infinity,
  });
  pool.registerHandler('step', async ({ s, seq }: Step) => {
    if (running.has(s) || (last.get(s) ?? -1) !== seq - 1) violations++;
    running.add(s);
    last.set(s, seq);
    await immediate();
    running.delete(s);
    latch.hit();
  });
  pool.start();
  const total = sessions * perSession;
  const done = latch.arm(total);
  for (let seq = 0; seq < perSession; seq++) {
    for (let k = 0; k < sessions; k++)
      void pool.enqueue('step', { s: `s${k}`, seq }, { sessionId: `s${k}` });
  }
  const moved: number[] = [];
  const sync: number[] = [];
  const resolved: number[] = [];
  const added: number[] = [];
  for (let c = 0; c < cycles; c++) {
    await sleep(2);
    // The busiest live lane: the most sessions and tasks to move.
    const live = pool.stats().lanes.filter((l) => !l.retiring);
    const busiest = live.reduce((a, b) => (b.queued > a.queued ? b : a));
    const id = busiest.id;
    moved.push(busiest.queued);
    await timeRemoval(pool, id, { sync, resolved, added });
  }
  await done;
  await pool.drain();
  return {
    sessions,
    tasksPerSession: perSession,
    cycles,
    tasksMoved: timing(moved),
    removeSyncMs: timing(sync),
    removeResolvedMs: timing(resolved),
    addLaneMs: timing(added),
    contractViolations: violations,
    completed: latch.count,
  };
}

/** A deep backlog (one task per session, none started yet) and one lane removed from it. */
async function backlog(sessions: number, repeats: number) {
  const sync: number[] = [];
  const resolved: number[] = [];
  const added: number[] = [];
  let moved = 0;
  for (let r = 0; r < repeats; r++) {
    gc();
    await tick();
    const latch = new Latch();
    const pool = new Dispatcher({
      lanes: CONCURRENCY,
      maxLanes: CONCURRENCY * 2,
      maxQueued: Infinity,
    });
    pool.registerHandler('t', async () => latch.hit());
    pool.start();
    const done = latch.arm(sessions);
    for (let i = 0; i < sessions; i++) void pool.enqueue('t', i, { sessionId: `b${i}` });
    const id = CONCURRENCY - 1;
    moved = pool.stats().lanes[id].queued;
    await timeRemoval(pool, id, { sync, resolved, added });
    await done;
  }
  return {
    sessions,
    repeats,
    tasksMoved: moved,
    removeSyncMs: timing(sync),
    removeResolvedMs: timing(resolved),
    addLaneMs: timing(added),
  };
}

/**
 * Growing to many lanes: `resize(1 -> n)` and building a pool of n lanes, each timed until
 * the first new session has been placed (the ring is rebuilt lazily, at that lookup).
 */
async function scale(repeats: number): Promise<ResizeResult['scale']> {
  const rows: ResizeResult['scale']['rows'] = [];
  const place = (pool: Dispatcher, id: string) => void pool.enqueue('t', null, { sessionId: id });
  for (const to of [256, 4_096]) {
    const ms: number[] = [];
    const pool = new Dispatcher({ lanes: 1, maxLanes: MAX_LANES });
    pool.registerHandler('t', () => undefined);
    pool.start();
    for (let r = 0; r < repeats; r++) {
      await pool.resize(1);
      gc();
      await tick();
      const t0 = now();
      await pool.resize(to);
      place(pool, `s${r}`);
      ms.push(now() - t0);
    }
    await pool.drain();
    rows.push({ name: `resize(1 -> ${to})`, lanesAdded: to - 1, ms: timing(ms), usPerLane: 0 });
  }
  const ms: number[] = [];
  for (let r = 0; r < repeats; r++) {
    gc();
    await tick();
    const t0 = now();
    const pool = new Dispatcher({ lanes: MAX_LANES, maxLanes: MAX_LANES });
    pool.registerHandler('t', () => undefined);
    place(pool, 'first');
    ms.push(now() - t0);
    pool.start();
    await pool.drain();
  }
  rows.push({
    name: `new Dispatcher({ lanes: ${MAX_LANES} })`,
    lanesAdded: MAX_LANES,
    ms: timing(ms),
    usPerLane: 0,
  });
  for (const row of rows) row.usPerLane = (row.ms.median * 1_000) / row.lanesAdded;
  return { repeats, rows };
}

export async function runResize(cfg: {
  sessions: number;
  perSession: number;
  cycles: number;
  backlogSessions: number;
  scaleRepeats: number;
}): Promise<ResizeResult> {
  return {
    underLoad: await underLoad(cfg.sessions, cfg.perSession, cfg.cycles),
    backlog: await backlog(cfg.backlogSessions, 3),
    scale: await scale(cfg.scaleRepeats),
  };
}

/** Times removeLane (the call, then until its promise resolves) and the addLane that restores the size. */
async function timeRemoval(
  pool: Dispatcher,
  id: number,
  into: { sync: number[]; resolved: number[]; added: number[] },
): Promise<void> {
  const t0 = now();
  const gone = pool.removeLane(id);
  const t1 = now();
  await gone;
  const t2 = now();
  pool.addLane();
  const t3 = now();
  into.sync.push(t1 - t0);
  into.resolved.push(t2 - t0);
  into.added.push(t3 - t2);
}

import { Dispatcher, type PoolOptions } from '../../lib/core/index.js';
import { createPlacement } from '../../lib/core/placement/create-placement.js';
import type { PlacementKind } from '../../lib/core/placement/session-placement.js';
import { SlotTable } from '../../lib/core/placement/slot-table.js';
import { type Deferred, deferred, flush } from '../support/deferred.js';

/** A session id homed on lane 0 or 1 of two lanes, and on lane 2 once it is added. */
function movingSession(): string {
  const grown = new SlotTable();
  for (const id of [0, 1, 2]) grown.add(id);
  for (let i = 0; ; i++) if (grown.lookup(`s${i}`) === 2) return `s${i}`;
}

async function busySession(rebalance: 'when-idle' | 'between-tasks') {
  const pool = new Dispatcher({ lanes: 2, rebalance });
  const gates: Deferred[] = [];
  const ran: Array<[number, number]> = [];
  let running = 0;
  let overlaps = 0;
  pool.registerHandler('step', async (n: number, ctx) => {
    if (running++ > 0) overlaps++;
    ran.push([n, ctx.laneId]);
    const gate = deferred();
    gates.push(gate);
    await gate.promise;
    running--;
    return n;
  });
  pool.start();
  const id = movingSession();
  const work = [0, 1, 2, 3].map((n) => pool.submit('step', n, { sessionId: id }));
  await flush();
  expect(ran).toHaveLength(1);
  pool.addLane(); // lane 2 now owns the session on the ring
  for (let i = 0; i < 4; i++) {
    await flush();
    gates[i].resolve();
  }
  expect(await Promise.all(work)).toEqual([0, 1, 2, 3]);
  expect(overlaps).toBe(0);
  return ran;
}

describe("rebalance: 'between-tasks'", () => {
  it('moves a busy session to the lane the ring gives it, at its next task boundary', async () => {
    const ran = await busySession('between-tasks');
    expect(ran[0][1]).not.toBe(2);
    expect(ran.slice(1)).toEqual([
      [1, 2],
      [2, 2],
      [3, 2],
    ]);
  });

  it("keeps a busy session on its lane with 'when-idle' (the thread lanes' default)", async () => {
    const ran = await busySession('when-idle');
    expect(new Set(ran.map(([, lane]) => lane)).size).toBe(1);
    expect(ran.map(([n]) => n)).toEqual([0, 1, 2, 3]);
  });

  it("is the default for in-process lanes; 'when-idle' stays available", () => {
    expect(new Dispatcher().options.rebalance).toBe('between-tasks');
    expect(new Dispatcher({ rebalance: 'when-idle' }).options.rebalance).toBe('when-idle');
  });

  it('names a bad value', () => {
    expect(() => new Dispatcher({ rebalance: 'always' as never })).toThrow(
      /"rebalance".*'when-idle' or 'between-tasks'/,
    );
  });
});

const FROM_LANES = 2;
const TO_LANES = 10;
const SESSIONS = 12;
const TASKS = 4;
const sessions = (): string[] => Array.from({ length: SESSIONS }, (_, i) => `conversation-${i}`);

/**
 * A backlog of busy sessions (every one has queued work from start to end, so none is ever
 * idle) on 2 lanes of concurrency 2, grown to 10 lanes. Handlers are released one at a time,
 * oldest first; at each release of a session's task the test reads, from outside, where the
 * session's next task goes and compares it with what the placement says for the loads of
 * that moment (its own work taken off its lane, as the engine does before asking).
 */
async function growUnderBacklog(options: PoolOptions) {
  const kind = options.placement ?? 'least-loaded';
  const pool = new Dispatcher({
    lanes: FROM_LANES,
    maxLanes: 16,
    laneConcurrency: 2,
    ...options,
  });
  const open: Array<{ session: string; gate: Deferred }> = [];
  const ranOn = new Map<string, number[]>();
  const running = new Set<string>();
  const perLane = new Map<number, number>();
  const violations: string[] = [];
  pool.registerHandler('message', async ({ s, seq }: { s: string; seq: number }, ctx) => {
    const lanes = ranOn.get(s) ?? [];
    if (running.has(s)) violations.push(`${s}#${seq} started while its session ran`);
    if (lanes.length !== seq) violations.push(`${s}#${seq} started after ${lanes.length} tasks`);
    const onLane = (perLane.get(ctx.laneId) ?? 0) + 1;
    if (onLane > 2) violations.push(`lane ${ctx.laneId} runs ${onLane} tasks`);
    running.add(s);
    perLane.set(ctx.laneId, onLane);
    lanes.push(ctx.laneId);
    ranOn.set(s, lanes);
    const gate = deferred();
    open.push({ session: s, gate });
    await gate.promise;
    running.delete(s);
    perLane.set(ctx.laneId, perLane.get(ctx.laneId)! - 1);
    return seq;
  });
  const work = sessions().map((s) =>
    Promise.all(
      Array.from({ length: TASKS }, (_, seq) =>
        pool.submit<number>('message', { s, seq }, { sessionId: s }),
      ),
    ),
  );
  pool.start();
  await flush();
  expect(open).toHaveLength(FROM_LANES * 2);
  await pool.resize(TO_LANES);

  // A policy of the same kind over the same lanes: what the placement says for given loads.
  const policy = createPlacement(kind as PlacementKind, 0.25);
  for (let id = 0; id < TO_LANES; id++) policy.added([id]);
  const replaced = new Set<string>();
  const wrong: string[] = [];
  while (open.length > 0) {
    const { session, gate } = open.shift()!;
    const info = pool.sessionInfo(session);
    const live = pool
      .stats()
      .lanes.filter((l) => !l.retiring)
      .map((l) => ({
        id: l.id,
        load: l.queued + l.running - (l.id === info.laneId ? info.queued + 1 : 0),
      }));
    gate.resolve();
    await flush();
    if (info.queued === 0) continue; // its last task: the session is idle now
    const to = pool.laneOf(session);
    // Once per lane change, at its first task boundary after it; then it stays.
    const want = replaced.has(session)
      ? info.laneId
      : policy.place(session, { live, get: (id) => live.find((l) => l.id === id) });
    replaced.add(session);
    if (to !== want) wrong.push(`${session}: lane ${to}, the placement said ${want}`);
  }
  const results = await Promise.all(work);
  await pool.drain();
  return { results, ranOn, violations, wrong };
}

describe('lanes added under a backlog of busy sessions', () => {
  it.each([
    ['least-loaded (the default)', {}],
    ['ring', { placement: 'ring' }],
    ['bounded', { placement: 'bounded' }],
  ] as Array<[string, PoolOptions]>)(
    'take sessions at their next task boundary by default, where the placement says (%s)',
    async (_, options) => {
      const { results, ranOn, violations, wrong } = await growUnderBacklog(options);
      expect(violations).toEqual([]);
      expect(wrong).toEqual([]);
      expect(results).toEqual(sessions().map(() => [0, 1, 2, 3]));
      // The new lanes ran sessions' next tasks.
      const newLanes = new Set([...ranOn.values()].flat().filter((id) => id >= FROM_LANES));
      if (options.placement === undefined) expect(newLanes.size).toBe(TO_LANES - FROM_LANES);
      else expect(newLanes.size).toBeGreaterThan(0);
    },
  );
});

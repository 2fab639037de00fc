import { Dispatcher } from '../../lib/core/index.js';
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

  it("keeps a busy session on its lane by default ('when-idle')", async () => {
    const ran = await busySession('when-idle');
    expect(new Set(ran.map(([, lane]) => lane)).size).toBe(1);
    expect(ran.map(([n]) => n)).toEqual([0, 1, 2, 3]);
  });

  it('names a bad value', () => {
    expect(() => new Dispatcher({ rebalance: 'always' as never })).toThrow(
      /"rebalance".*'when-idle' or 'between-tasks'/,
    );
  });
});

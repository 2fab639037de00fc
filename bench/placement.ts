/**
 * Scenario 10: session placement ('ring', 'bounded', 'least-loaded'), issue 16.
 *
 * Idle-id spread and movement are counts (exact, no timing). The 50-sessions case times 50
 * sessions of one 20 ms task each on 4 lanes against an even spread (13 tasks on the
 * busiest lane: 260 ms). Keyed latency reuses scenario 4's open-loop machinery.
 */
import { Dispatcher } from '../lib/core/index.js';
import { createPlacement } from '../lib/core/placement/create-placement.js';
import {
  PLACEMENT_KINDS,
  type LaneLoads,
  type PlacementKind,
} from '../lib/core/placement/session-placement.js';
import { fmtMs, median, now, sleep, table } from './harness.js';
import { type LatencyResult, runPlacementLatency } from './latency.js';

const KINDS = PLACEMENT_KINDS;

function lanes(kind: PlacementKind, n: number) {
  const policy = createPlacement(kind, 160, 0.25);
  const live = Array.from({ length: n }, (_, id) => ({ id, load: 0 }));
  for (const l of live) policy.added(l.id);
  const loads: LaneLoads = { live, get: (id) => live[id] };
  return { policy, live, loads };
}

/** Busiest lane over the mean: `count` ids of `family` on 8 lanes, idle or all kept active. */
function spread(kind: PlacementKind, family: string, active: boolean, count = 10_000): number {
  const { policy, live, loads } = lanes(kind, 8);
  for (let i = 0; i < count; i++) {
    const id = `${family}-${i}`;
    live[active ? policy.place(id, loads) : policy.home(id)].load++;
  }
  return Math.max(...live.map((l) => l.load)) / (count / 8);
}

/** Share of 10,000 idle ids whose home changes on from -> to lanes (the ring's own answer). */
function movement(from: number, to: number): { moved: number; betweenSurvivors: number } {
  const a = lanes('ring', from).policy;
  const b = lanes('ring', to).policy;
  let moved = 0;
  let betweenSurvivors = 0;
  for (let i = 0; i < 10_000; i++) {
    const x = a.home(`session-${i}`);
    const y = b.home(`session-${i}`);
    if (x === y) continue;
    moved++;
    if (x < to && y < from) betweenSurvivors++;
  }
  return { moved: moved / 10_000, betweenSurvivors };
}

/** Wall time of 50 sessions x one `taskMs` task on 4 lanes, over the even spread's. */
async function fiftySessions(kind: PlacementKind, taskMs: number): Promise<number> {
  const pool = new Dispatcher({ lanes: 4, placement: kind });
  pool.registerHandler('work', () => sleep(taskMs));
  pool.start();
  const t0 = now();
  await Promise.all(
    Array.from({ length: 50 }, (_, i) => pool.submit('work', null, { sessionId: `session-${i}` })),
  );
  const took = now() - t0;
  await pool.drain();
  return took / (Math.ceil(50 / 4) * taskMs);
}

export interface PlacementResult {
  spread: Array<{ kind: PlacementKind; family: string; idle: number; active: number }>;
  movement: { up: ReturnType<typeof movement>; down: ReturnType<typeof movement> };
  fifty: Array<{ kind: PlacementKind; ratio: number }>;
  latency: LatencyResult;
}

export async function runPlacement(cfg: {
  measureMs: number;
  warmupMs: number;
  rounds: number;
}): Promise<PlacementResult> {
  const spreadRows = KINDS.flatMap((kind) =>
    ['session', 'user'].map((family) => ({
      kind,
      family,
      idle: spread(kind, family, false),
      active: spread(kind, family, true),
    })),
  );
  const fifty: PlacementResult['fifty'] = [];
  for (const kind of KINDS) {
    const ratios: number[] = [];
    for (let r = 0; r < 5; r++) ratios.push(await fiftySessions(kind, 20));
    fifty.push({ kind, ratio: median(ratios) });
  }
  return {
    spread: spreadRows,
    movement: { up: movement(10, 11), down: movement(11, 10) },
    fifty,
    latency: await runPlacementLatency(cfg),
  };
}

export function printPlacement(r: PlacementResult, out: (s: string) => void): void {
  out('10,000 ids on 8 lanes, busiest lane / mean (idle: hash home; active: all kept busy)');
  out(
    table(
      ['placement', 'ids', 'idle', 'active'],
      r.spread.map((s) => [s.kind, `${s.family}-N`, s.idle.toFixed(3), s.active.toFixed(3)]),
    ),
  );
  const m = r.movement;
  out(
    `idle ids moved: 10 -> 11 lanes ${(m.up.moved * 100).toFixed(2)}% (1/N = 9.09%), ` +
      `11 -> 10 ${(m.down.moved * 100).toFixed(2)}% (1/N = 9.09%); between surviving lanes: ` +
      `${m.up.betweenSurvivors} and ${m.down.betweenSurvivors}`,
  );
  out('50 sessions x one 20 ms task on 4 lanes, wall time / even spread (260 ms), median of 5');
  out(
    table(
      ['placement', 'ratio'],
      r.fifty.map((f) => [f.kind, f.ratio.toFixed(2)]),
    ),
  );
  out(
    `keyed submit -> start, 1,000 sessions, 8 lanes (capacity ${r.latency.capacityPerSec.toFixed(0)}/s)`,
  );
  out(
    table(
      ['contender', 'load', 'p50', 'p99 (median of rounds)', 'worst round p99'],
      r.latency.rows.map((x) => [
        x.name,
        `${x.load * 100}%`,
        fmtMs(x.p50),
        fmtMs(x.p99),
        fmtMs(Math.max(...x.p99Rounds)),
      ]),
    ),
  );
}

// Alone: node --expose-gc dist/bench/placement.js
if (process.argv[1]?.endsWith('placement.js')) {
  const rounds = Number(process.env.PLACEMENT_ROUNDS ?? 3);
  const r = await runPlacement({ measureMs: 1_000, warmupMs: 200, rounds });
  printPlacement(r, (s) => console.log(s));
}

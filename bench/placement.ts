/**
 * Scenario 10: session placement ('ring', 'bounded', 'least-loaded'), issue 16.
 *
 * Idle-id spread and movement are counts (exact, no timing). The slot table's build times
 * are wall and CPU time (the machine is shared: CPU time is the steadier figure). The 50-sessions case times 50
 * sessions of one 20 ms task each on 4 lanes against an even spread (13 tasks on the
 * busiest lane: 260 ms). Keyed latency reuses scenario 4's open-loop machinery.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dispatcher } from '../lib/core/index.js';
import { createPlacement } from '../lib/core/placement/create-placement.js';
import {
  PLACEMENT_KINDS,
  type LaneLoads,
  type PlacementKind,
} from '../lib/core/placement/session-placement.js';
import { SlotTable } from '../lib/core/placement/slot-table.js';
import { MAX_LANES } from '../lib/core/options.js';
import { fmtMs, median, now, sleep, table } from './harness.js';
import { type LatencyResult, runPlacementLatency } from './latency.js';

const KINDS = PLACEMENT_KINDS;

function lanes(kind: PlacementKind, n: number) {
  const policy = createPlacement(kind, 0.25);
  const live = Array.from({ length: n }, (_, id) => ({ id, load: 0 }));
  policy.added(live.map((l) => l.id));
  const loads: LaneLoads = { live, get: (id) => live[id] };
  return { policy, live, loads };
}

/** Busiest and least-loaded lane over the mean: `count` ids of `family` on 8 lanes, idle or all kept active. */
function spread(kind: PlacementKind, family: string, active: boolean, count = 10_000) {
  const { policy, live, loads } = lanes(kind, 8);
  for (let i = 0; i < count; i++) {
    const id = `${family}-${i}`;
    live[active ? policy.place(id, loads) : policy.home(id)].load++;
  }
  const counts = live.map((l) => l.load);
  return { max: Math.max(...counts) / (count / 8), min: Math.min(...counts) / (count / 8) };
}

export interface Movement {
  /** Share of the ids whose home changed (the worst over the lanes removed). */
  moved: number;
  /** Ids that moved from one lane that stayed to another (summed over the lanes removed). */
  betweenSurvivors: number;
}

/**
 * Idle ids (10,000 of each family) whose home changes as lane 10 joins lanes 0-9 (`up`), and
 * as each lane of 0-10 in turn leaves (`down`, the worst share): the table's own answer.
 */
function movement(): { up: Movement; down: Movement } {
  const keys = ['session', 'user'].flatMap((f) =>
    Array.from({ length: 10_000 }, (_, i) => `${f}-${i}`),
  );
  const diff = (before: number[], table: SlotTable, moving: number): Movement => {
    let moved = 0;
    let betweenSurvivors = 0;
    keys.forEach((k, i) => {
      const now = table.lookup(k);
      if (now === before[i]) return;
      moved++;
      if (now !== moving && before[i] !== moving) betweenSurvivors++;
    });
    return { moved: moved / keys.length, betweenSurvivors };
  };
  const up = tableOf(10);
  const ten = keys.map((k) => up.lookup(k));
  up.add(10);
  const upMoved = diff(ten, up, 10);
  const down: Movement = { moved: 0, betweenSurvivors: 0 };
  for (let gone = 0; gone <= 10; gone++) {
    const t = tableOf(11);
    const eleven = keys.map((k) => t.lookup(k));
    t.remove(gone);
    const m = diff(eleven, t, gone);
    down.moved = Math.max(down.moved, m.moved);
    down.betweenSurvivors += m.betweenSurvivors;
  }
  return { up: upMoved, down };
}

function tableOf(n: number): SlotTable {
  const table = new SlotTable();
  for (let id = 0; id < n; id++) table.add(id);
  return table;
}

export interface BuildRow {
  name: string;
  lanesChanged: number;
  /** Median wall and CPU (user + system) time over the repeats, in ms. */
  wallMs: number;
  cpuMs: number;
  usPerLane: number;
}

/** Median wall and CPU time of `run` over `repeats`, each after a GC. */
function timed(name: string, lanesChanged: number, repeats: number, run: () => void): BuildRow {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < repeats; r++) {
    global.gc?.();
    const c0 = process.cpuUsage();
    const t0 = now();
    run();
    wall.push(now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1_000);
  }
  const wallMs = median(wall);
  return {
    name,
    lanesChanged,
    wallMs,
    cpuMs: median(cpu),
    usPerLane: (wallMs * 1_000) / lanesChanged,
  };
}

/**
 * The placement table alone (the pool-level rows are scenario 6's `Lane counts` and
 * `bench/lane-counts.ts`): the documented maximum in one call, as a new pool or a resize
 * tells it (`addAll`), and lane by lane (the same table); grown 1 -> 256; one lane removed
 * and added back at 65,536.
 */
function building(repeats: number): BuildRow[] {
  let big = new SlotTable();
  const all = Array.from({ length: MAX_LANES }, (_, id) => id);
  const rows = [
    timed(`${MAX_LANES} lanes in one call (addAll)`, MAX_LANES, repeats, () => {
      new SlotTable().addAll(all);
    }),
    timed(`${MAX_LANES} lanes, added one by one`, MAX_LANES, repeats, () => {
      big = tableOf(MAX_LANES);
    }),
    timed('1 -> 256 lanes', 255, repeats, () => {
      const t = tableOf(1);
      for (let id = 1; id < 256; id++) t.add(id);
    }),
    timed(`remove lane 1234 of ${MAX_LANES}, add it back`, 2, repeats, () => {
      big.remove(1_234);
      big.add(1_234);
    }),
  ];
  return rows;
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
  /** Busiest lane / mean; `idleMin`: the least-loaded lane / mean of idle ids. */
  spread: Array<{
    kind: PlacementKind;
    family: string;
    idle: number;
    idleMin: number;
    active: number;
  }>;
  movement: ReturnType<typeof movement>;
  build: BuildRow[];
  fifty: Array<{ kind: PlacementKind; ratio: number }>;
  latency: LatencyResult;
}

export async function runPlacement(cfg: {
  measureMs: number;
  warmupMs: number;
  rounds: number;
}): Promise<PlacementResult> {
  const spreadRows = KINDS.flatMap((kind) =>
    ['session', 'user'].map((family) => {
      const idle = spread(kind, family, false);
      return {
        kind,
        family,
        idle: idle.max,
        idleMin: idle.min,
        active: spread(kind, family, true).max,
      };
    }),
  );
  const fifty: PlacementResult['fifty'] = [];
  for (const kind of KINDS) {
    const ratios: number[] = [];
    for (let r = 0; r < 5; r++) ratios.push(await fiftySessions(kind, 20));
    fifty.push({ kind, ratio: median(ratios) });
  }
  return {
    spread: spreadRows,
    movement: movement(),
    build: building(3),
    fifty,
    latency: await runPlacementLatency(cfg),
  };
}

/** Issue 16 item 3 and issue 18 item 6, as `npm run bench` checks them. */
export function placementTargets(
  r: PlacementResult,
): Array<{ target: string; measured: string; met: boolean }> {
  const idle = r.spread.filter((s) => s.kind === 'ring');
  const worst = Math.max(...idle.map((s) => Math.max(s.idle - 1, 1 - s.idleMin)));
  const m = r.movement;
  const build = r.build[0];
  const grow = r.build[2];
  return [
    {
      target: '10,000 idle ids (session-N, user-N) on 8 lanes: every lane within 6% of the mean',
      measured: `${(worst * 100).toFixed(1)}%`,
      met: worst <= 0.06,
    },
    {
      target:
        'idle ids moved on 10 -> 11 and 11 -> 10 lanes <= 1.2/N, none between surviving lanes',
      measured: `${(m.up.moved * 100).toFixed(2)}% / ${(m.down.moved * 100).toFixed(2)}%, ${m.up.betweenSurvivors + m.down.betweenSurvivors}`,
      met:
        m.up.moved <= 1.2 / 11 &&
        m.down.moved <= 1.2 / 11 &&
        m.up.betweenSurvivors + m.down.betweenSurvivors === 0,
    },
    {
      target: `placement table of ${MAX_LANES} lanes built (in one call, as a pool does) in < 1 s`,
      measured: `${fmtMs(build.wallMs)} (CPU ${fmtMs(build.cpuMs)})`,
      met: build.wallMs < 1_000,
    },
    {
      target: 'placement table 1 -> 256 lanes: at most a few ms per lane added',
      measured: `${grow.usPerLane.toFixed(1)} us per lane`,
      met: grow.usPerLane < 1_000,
    },
  ];
}

export function printPlacement(r: PlacementResult, out: (s: string) => void): void {
  out(
    '10,000 ids on 8 lanes, busiest lane / mean (idle: hash home, also the least-loaded lane; active: all kept busy)',
  );
  out(
    table(
      ['placement', 'ids', 'idle', 'idle least', 'active'],
      r.spread.map((s) => [
        s.kind,
        `${s.family}-N`,
        s.idle.toFixed(3),
        s.idleMin.toFixed(3),
        s.active.toFixed(3),
      ]),
    ),
  );
  const m = r.movement;
  out(
    `20,000 idle ids moved: 10 -> 11 lanes ${(m.up.moved * 100).toFixed(2)}% (1/N = 9.09%), ` +
      `11 -> 10 ${(m.down.moved * 100).toFixed(2)}% (worst of the 11 lanes removed; 1/N = 9.09%); ` +
      `between surviving lanes: ${m.up.betweenSurvivors} and ${m.down.betweenSurvivors}`,
  );
  out('placement table (slot table) alone, median of 3');
  out(
    table(
      ['change', 'wall', 'CPU', 'per lane'],
      r.build.map((b) => [b.name, fmtMs(b.wallMs), fmtMs(b.cpuMs), `${b.usPerLane.toFixed(1)} us`]),
    ),
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

// Alone: node --expose-gc dist/bench/placement.js; writes bench/results/<date>-placement.json.
if (process.argv[1]?.endsWith('placement.js')) {
  const rounds = Number(process.env.PLACEMENT_ROUNDS ?? 3);
  const date = new Date().toISOString();
  const loadavgAtStart = os.loadavg();
  const r = await runPlacement({ measureMs: 1_000, warmupMs: 200, rounds });
  printPlacement(r, (s) => console.log(s));
  const file = join(
    dirname(fileURLToPath(import.meta.url)),
    `../../bench/results/${date.slice(0, 16).replace(':', '-')}-placement.json`,
  );
  const meta = { date, node: process.version, cpus: os.cpus().length, rounds, loadavgAtStart };
  writeFileSync(
    file,
    JSON.stringify({ meta: { ...meta, loadavgAtEnd: os.loadavg() }, placement: r }, null, 2),
  );
  console.log(`wrote ${file}`);
}

/**
 * Building and growing a pool of many lanes, each case in a fresh process (what an app pays
 * at boot, JIT warm-up included): `new Dispatcher({ lanes: 65,536 })`, `resize(1 -> 4,096)`
 * and `resize(4,096 -> 65,536)`, each timed until the first new session has been placed.
 * Reported per case: the median over the runs of wall time, CPU time (user + system, from
 * `process.cpuUsage`) and the memory the pool keeps for its lanes (heap + array buffers after
 * two GCs, minus the same before the change).
 *
 *   npm run build && node --expose-gc dist/bench/lane-counts.js [runs=5]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Dispatcher } from '../lib/core/index.js';
import { MAX_LANES } from '../lib/core/options.js';
import { fmtBytes, fmtMs, gc, median, table } from './harness.js';

interface Case {
  name: string;
  from: number;
  to: number;
}

const CASES: Case[] = [
  { name: `new Dispatcher({ lanes: ${MAX_LANES.toLocaleString('en')} })`, from: 0, to: MAX_LANES },
  { name: 'resize(1 -> 4,096)', from: 1, to: 4_096 },
  { name: `resize(4,096 -> ${MAX_LANES.toLocaleString('en')})`, from: 4_096, to: MAX_LANES },
];

interface Sample {
  wallMs: number;
  cpuMs: number;
  bytes: number;
}

/** Heap and array buffers in use; a turn of the event loop first lets freed buffers go. */
const kept = async (): Promise<number> => {
  await new Promise((resolve) => setTimeout(resolve, 20));
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** One run of one case, in this process. */
async function measure(c: Case): Promise<Sample> {
  let pool: Dispatcher | undefined;
  if (c.from > 0) {
    pool = new Dispatcher({ lanes: c.from, maxLanes: MAX_LANES });
    pool.registerHandler('t', () => undefined);
  }
  const before = await kept();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (pool === undefined) {
    pool = new Dispatcher({ lanes: c.to, maxLanes: MAX_LANES });
    pool.registerHandler('t', () => undefined);
  } else await pool.resize(c.to);
  void pool.enqueue('t', null, { sessionId: 'first' }); // the placement answers
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const bytes = (await kept()) - before;
  if (pool.stats().lanes.length !== c.to) throw new Error(`${c.name}: not ${c.to} lanes`);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1_000, bytes };
}

const self = fileURLToPath(import.meta.url);
const at = process.argv.indexOf('--case');
if (at >= 0) {
  console.log(JSON.stringify(await measure(CASES[Number(process.argv[at + 1])])));
} else {
  const runs = Number(process.argv[2] ?? 5);
  const rows: string[][] = [];
  for (let i = 0; i < CASES.length; i++) {
    const samples: Sample[] = [];
    for (let r = 0; r < runs; r++) {
      const out = execFileSync(process.execPath, ['--expose-gc', self, '--case', String(i)]);
      samples.push(JSON.parse(out.toString()) as Sample);
    }
    const wall = samples.map((s) => s.wallMs);
    rows.push([
      CASES[i].name,
      fmtMs(median(wall)),
      `${fmtMs(Math.min(...wall))} - ${fmtMs(Math.max(...wall))}`,
      fmtMs(median(samples.map((s) => s.cpuMs))),
      fmtBytes(median(samples.map((s) => s.bytes))),
    ]);
  }
  console.log(`node ${process.version}, ${runs} runs a case, each in a fresh process; medians`);
  console.log(table(['', 'wall', 'wall range', 'CPU', 'memory kept'], rows));
}

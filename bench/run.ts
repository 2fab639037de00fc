/**
 * Benchmarks against peers: `npm run bench` (about 3 minutes), `BENCH_QUICK=1 npm run bench`
 * for a smoke run. Prints tables and writes bench/results/latest.json. See bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtBytes, fmtMs, fmtRate, fmtRatio, hasGc, QUICK, SEED, table } from './harness.js';
import { type BatchBenchResult, runBatch } from './batch.js';
import { CONTEXT_CONFIG, printContext, runContext } from './context.js';
import { type LatencyResult, runLatency } from './latency.js';
import { type MemoryResult, runMemory } from './memory.js';
import { type ResizeResult, runResize } from './resize.js';
import { placementTargets, printPlacement, runPlacement } from './placement.js';
import { GROWTH_CONFIG, type GrowthResult, printGrowth, runGrowth } from './growth.js';
import { type ThreadsResult, runThreads } from './threads.js';
import { type GroupResult, runThroughput } from './throughput.js';

const config = QUICK
  ? {
      throughput: {
        batch: 10_000,
        minMs: 60,
        rounds: 3,
        timerBatch: 400,
        timerMinMs: 100,
        timerRounds: 2,
      },
      latency: { measureMs: 500, warmupMs: 100, rounds: 2 },
      placement: { measureMs: 500, warmupMs: 100, rounds: 3 },
      growth: { ...GROWTH_CONFIG, rounds: 1 },
      memory: { tasks: 200_000, sessions: 200_000 },
      resize: {
        sessions: 1_000,
        perSession: 10,
        cycles: 5,
        backlogSessions: 50_000,
        scaleRepeats: 1,
      },
      batch: { tasks: 2_000, sessions: 1_000, minMs: 150, rounds: 2 },
      threads: {
        laneConcurrency: 16,
        trivial: { batch: 5_000, minMs: 80, rounds: 3 },
        cpu: { batch: 1_000, minMs: 150, rounds: 3 },
      },
    }
  : {
      throughput: {
        batch: 10_000,
        minMs: 150,
        rounds: 7,
        timerBatch: 800,
        timerMinMs: 250,
        timerRounds: 4,
      },
      latency: { measureMs: 2_000, warmupMs: 300, rounds: 3 },
      placement: { measureMs: 1_000, warmupMs: 200, rounds: 5 },
      growth: GROWTH_CONFIG,
      memory: { tasks: 1_000_000, sessions: 1_000_000 },
      resize: {
        sessions: 2_000,
        perSession: 10,
        cycles: 10,
        backlogSessions: 100_000,
        scaleRepeats: 3,
      },
      batch: { tasks: 2_000, sessions: 1_000, minMs: 400, rounds: 5 },
      threads: {
        laneConcurrency: 16,
        trivial: { batch: 10_000, minMs: 200, rounds: 7 },
        cpu: { batch: 2_000, minMs: 300, rounds: 7 },
      },
    };

interface Target {
  target: string;
  measured: string;
  met: boolean;
}

const out = console.log;

function section(title: string): void {
  out(`\n== ${title} ==`);
}

function printGroup(g: GroupResult): void {
  const sub = g.results.find((r) => r.name.startsWith('pool.submit'))!.opsPerSec;
  const enq = g.results.find((r) => r.name.startsWith('pool.enqueue'))!.opsPerSec;
  out(`\n${g.title}  (batches of ${g.batch}, ${g.rounds} rounds, median)`);
  out(
    table(
      ['contender', 'tasks/s', 'min', 'max', 'submit ÷ it', 'enqueue ÷ it'],
      g.results.map((r) => [
        r.name,
        fmtRate(r.opsPerSec),
        fmtRate(r.min),
        fmtRate(r.max),
        fmtRatio(sub / r.opsPerSec),
        fmtRatio(enq / r.opsPerSec),
      ]),
    ),
  );
}

function printLatency(l: LatencyResult): void {
  out(
    `\ncapacity (closed loop, pool, 1 ms timer handler): ${fmtRate(l.capacityPerSec)}; ` +
      `${l.rounds} rounds of ${l.measureMs} ms measured after ${l.warmupMs} ms warm-up, ` +
      `contenders shuffled each round; medians over rounds`,
  );
  out(
    table(
      [
        'contender',
        'load',
        'offered',
        'achieved',
        'samples',
        'p50',
        'p90',
        'p99',
        'p99 range',
        'max',
        '>= 1 ms',
        'p50 planned',
        'p99 planned',
      ],
      l.rows.map((r) => [
        r.name,
        `${Math.round(r.load * 100)}%`,
        fmtRate(r.offeredRate),
        fmtRate(r.achievedRate),
        String(r.samples),
        fmtMs(r.p50),
        fmtMs(r.p90),
        fmtMs(r.p99),
        `${fmtMs(Math.min(...r.p99Rounds))}..${fmtMs(Math.max(...r.p99Rounds))}`,
        fmtMs(r.max),
        `${(r.over1ms * 100).toFixed(1)}%`,
        fmtMs(r.p50FromPlanned),
        fmtMs(r.p99FromPlanned),
      ]),
    ),
  );
  out(
    'p50..max and ">= 1 ms" (share of tasks): submit -> handler start; "p99 range": over rounds. ' +
      '"planned": from the planned arrival time.',
  );
}

function printMemory(m: MemoryResult): void {
  out(
    table(
      ['queued, not started', 'tasks', 'heap delta', 'bytes/task'],
      m.queued.map((r) => [
        r.name,
        r.tasks.toLocaleString('en'),
        fmtBytes(r.heapDelta),
        r.bytesPerTask.toFixed(1),
      ]),
    ),
  );
  const c = m.churn;
  out(
    `\n${c.sessions.toLocaleString('en')} distinct sessions, one task each, in waves of 10,000 ` +
      `(${fmtRate((c.sessions * 1000) / c.ms)}):`,
  );
  out(
    table(
      ['after', 'heapUsed', 'vs baseline'],
      [
        ['baseline (warmed)', fmtBytes(c.baseline), ''],
        ...c.checkpoints.map((p) => [
          `${p.sessions.toLocaleString('en')} sessions`,
          fmtBytes(p.heapUsed),
          fmtBytes(p.heapUsed - c.baseline),
        ]),
      ],
    ),
  );
  out(`active sessions left: ${c.activeSessions}`);
}

function printResize(r: ResizeResult): void {
  const u = r.underLoad;
  const b = r.backlog;
  const t = (x: { median: number; max: number }) => `${fmtMs(x.median)} (max ${fmtMs(x.max)})`;
  out(
    table(
      ['', 'under load', 'deep backlog'],
      [
        [
          'setup',
          `${u.sessions} sessions x ${u.tasksPerSession}, handler yields (setImmediate), ${u.cycles} cycles`,
          `${b.sessions.toLocaleString('en')} sessions x 1, none started, ${b.repeats} repeats`,
        ],
        [
          'tasks moved per removal',
          `${Math.round(u.tasksMoved.median)} (median)`,
          String(b.tasksMoved),
        ],
        ['removeLane() call (sync, moves sessions)', t(u.removeSyncMs), t(b.removeSyncMs)],
        ['removeLane() until its promise resolved', t(u.removeResolvedMs), t(b.removeResolvedMs)],
        ['addLane() (the ring rebuilds at the next new session)', t(u.addLaneMs), t(b.addLaneMs)],
        ['contract violations / tasks completed', `${u.contractViolations} / ${u.completed}`, ''],
      ],
    ),
  );
  out(
    `\nLane counts (each until the first new session is placed, so the ring rebuild counts; median of ${r.scale.repeats}):`,
  );
  out(
    table(
      ['', 'lanes added', 'time', 'per lane added'],
      r.scale.rows.map((row) => [
        row.name,
        row.lanesAdded.toLocaleString('en'),
        t(row.ms),
        `${row.usPerLane.toFixed(1)} µs`,
      ]),
    ),
  );
}

function printBatch(b: BatchBenchResult): void {
  const base = b.results[0].opsPerSec;
  out(
    `${b.config.tasks.toLocaleString('en')} tasks per run over ${b.config.sessions.toLocaleString('en')} sessions; ` +
      `bulk write: 1 ms per call + 10 us CPU per item; ${b.config.rounds} rounds, median`,
  );
  out(
    table(
      ['', 'tasks/s', 'min', 'max', 'tasks per call', 'vs one per call'],
      b.results.map((r) => [
        r.name,
        fmtRate(r.opsPerSec),
        fmtRate(r.min),
        fmtRate(r.max),
        r.meanBatch.toFixed(1),
        fmtRatio(r.opsPerSec / base),
      ]),
    ),
  );
}

function printThreads(t: ThreadsResult): void {
  const rows = (results: ThreadsResult['trivial']) => {
    const ours = results[0].opsPerSec;
    return results.map((r) => [
      r.name,
      fmtRate(r.opsPerSec),
      fmtRate(r.min),
      fmtRate(r.max),
      fmtRatio(ours / r.opsPerSec),
    ]);
  };
  const headers = ['contender', 'tasks/s', 'min', 'max', 'keyed threads ÷ it'];
  out('\ntrivial task (returns its payload), 2 threads');
  out(table(headers, rows(t.trivial)));
  out('\nCPU-bound task (sha256 of 64 KiB), 2 threads');
  out(table(headers, rows(t.cpu)));
}

function threadTargets(t: ThreadsResult): Target[] {
  const ratio = (results: ThreadsResult['trivial']) =>
    results[0].opsPerSec / results.find((r) => r.name === 'piscina.run (defaults)')!.opsPerSec;
  return [
    {
      target: 'thread mode, trivial tasks, 2 threads: >= 3x piscina',
      measured: fmtRatio(ratio(t.trivial)),
      met: ratio(t.trivial) >= 3,
    },
    {
      target: 'thread mode, sha256 of 64 KiB, 2 threads: within 1.1x of piscina',
      measured: fmtRatio(ratio(t.cpu)),
      met: ratio(t.cpu) >= 1 / 1.1,
    },
  ];
}

function growthTarget(g: GrowthResult): Target {
  const c = g.config;
  const row = g.rows.find((r) => r.name.startsWith('default'))!;
  return {
    target: `${c.sessions} busy sessions, ${c.fromLanes} -> ${c.toLanes} lanes (defaults): a second at >= 80% of ${c.toLanes} lanes' rate begins within 1 s`,
    measured: Number.isFinite(row.msTo80) ? `from ${row.msTo80} ms` : 'never',
    met: row.msTo80 <= 1_000,
  };
}

function targets(groups: GroupResult[], latency: LatencyResult, memory: MemoryResult): Target[] {
  const g = (id: string) => groups.find((x) => x.id === id)!;
  const rate = (id: string, prefix: string) =>
    g(id).results.find((r) => r.name.startsWith(prefix))!.opsPerSec;
  const keyedSubmit = rate('keyed-1000-trivial', 'pool.submit');
  const keyedEnqueue = rate('keyed-1000-trivial', 'pool.enqueue');
  const raw = rate('keyed-1000-trivial', 'raw loop');
  const pqLanes = rate('keyed-1000-trivial', 'p-queue lanes');
  const pq = rate('unkeyed-trivial', 'p-queue');
  const fqLanes = rate('keyed-1000-trivial', 'fastq cb lanes');
  const fqCb = rate('unkeyed-trivial', 'fastq callback');
  const bytes = (prefix: string) =>
    memory.queued.find((r) => r.name.startsWith(prefix))!.bytesPerTask;
  const p99 = (name: string) => latency.rows.find((r) => r.load === 0.5 && r.name === name)!.p99;
  const list: Target[] = [
    {
      target: 'keyed submit (1,000 sessions) >= 10x p-queue lanes',
      measured: fmtRatio(keyedSubmit / pqLanes),
      met: keyedSubmit / pqLanes >= 10,
    },
    {
      target: 'keyed submit (1,000 sessions) >= 10x p-queue (c=8, unkeyed)',
      measured: fmtRatio(keyedSubmit / pq),
      met: keyedSubmit / pq >= 10,
    },
    {
      target: 'keyed submit (1,000 sessions) >= 1.5x fastq callback lanes (keyed)',
      measured: fmtRatio(keyedSubmit / fqLanes),
      met: keyedSubmit / fqLanes >= 1.5,
    },
    {
      target: 'keyed submit (1,000 sessions) >= 1.5x fastq callback (c=8, unkeyed)',
      measured: fmtRatio(keyedSubmit / fqCb),
      met: keyedSubmit / fqCb >= 1.5,
    },
    {
      target: 'keyed enqueue (1,000 sessions) >= 5M tasks/s',
      measured: fmtRate(keyedEnqueue),
      met: keyedEnqueue >= 5e6,
    },
    {
      target: 'keyed enqueue within 4x of the raw loop',
      measured: `raw is ${fmtRatio(raw / keyedEnqueue)}`,
      met: raw / keyedEnqueue <= 4,
    },
    {
      target: '<= 150 B heap per queued task (enqueue, unkeyed)',
      measured: `${bytes('pool.enqueue').toFixed(1)} B`,
      met: bytes('pool.enqueue') <= 150,
    },
    {
      target: '<= 150 B heap per queued task (enqueue, keyed)',
      measured: `${bytes('pool.enqueue (keyed').toFixed(1)} B`,
      met: bytes('pool.enqueue (keyed') <= 150,
    },
    {
      target: '<= 150 B heap per queued task (submit, keyed)',
      measured: `${bytes('pool.submit (keyed').toFixed(1)} B`,
      met: bytes('pool.submit (keyed') <= 150,
    },
    {
      target: `flat heap after ${memory.churn.sessions.toLocaleString('en')} sessions (< 1 MiB over baseline, none left)`,
      measured: `${fmtBytes(memory.churn.delta)}, ${memory.churn.activeSessions} left`,
      met: memory.churn.delta < 1 << 20 && memory.churn.activeSessions === 0,
    },
    {
      target: 'p99 submit -> start < 1 ms at 50% load (unkeyed)',
      measured: fmtMs(p99('pool.submit')),
      met: p99('pool.submit') < 1,
    },
    {
      target: 'p99 submit -> start < 1 ms at 50% load (keyed, 1,000 sessions)',
      measured: fmtMs(p99('pool.submit (keyed, 1,000 sessions)')),
      met: p99('pool.submit (keyed, 1,000 sessions)') < 1,
    },
  ];
  return list;
}

async function main(): Promise<void> {
  if (!hasGc()) throw new Error('Run with node --expose-gc (npm run bench does).');
  const began = Date.now();
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    quick: QUICK,
    /** Seed of the contenders' order in each round (BENCH_SEED=<it> replays the order). */
    seed: SEED,
    loadavgAtStart: os.loadavg(),
  };
  out(
    `nest-worker-pool bench${QUICK ? ' (BENCH_QUICK)' : ''}: node ${meta.node}, ` +
      `${meta.cpus} cpus (${meta.cpuModel}), load average ${meta.loadavgAtStart.map((x) => x.toFixed(2)).join(' ')}`,
  );
  out('Concurrency 8 everywhere: the pool has 8 lanes of concurrency 1.');
  out(
    `Contenders run in a shuffled order each round; seed ${SEED} (BENCH_SEED=${SEED} replays it).`,
  );

  section('1-3. Throughput');
  const groups = await runThroughput(config.throughput, printGroup);

  section('4. Latency, submit -> handler start, open-loop arrivals');
  const latency = await runLatency(config.latency);
  printLatency(latency);

  section('5. Memory');
  const memory = await runMemory(config.memory);
  printMemory(memory);

  section('6. Resize under load');
  const resize = await runResize(config.resize);
  printResize(resize);

  section('7. Batch handler vs one task per call');
  const batch = await runBatch(config.batch);
  printBatch(batch);

  section('8. Worker threads: thread mode beside piscina');
  const threads = await runThreads(config.threads);
  printThreads(threads);

  section("9. Async context: context 'caller' (default) beside 'none'");
  const context = await runContext(CONTEXT_CONFIG);
  out(printContext(context));

  section('10. Session placement: ring, bounded loads, least-loaded (issue 16)');
  const placement = await runPlacement(config.placement);
  printPlacement(placement, out);

  section('11. Growth under a backlog of busy sessions (issue 16)');
  const growth = await runGrowth(config.growth);
  printGrowth(growth, out);

  section('Targets (issues #5, #8, #16 and #18)');
  const list = [
    ...targets(groups, latency, memory),
    ...threadTargets(threads),
    ...placementTargets(placement),
    growthTarget(growth),
  ];
  out(
    table(
      ['target', 'measured', ''],
      list.map((t) => [t.target, t.measured, t.met ? 'met' : 'MISSED']),
    ),
  );

  const seconds = (Date.now() - began) / 1000;
  const dir = join(dirname(fileURLToPath(import.meta.url)), '../../bench/results');
  // latest.json is git-ignored; the dated copy is the one to commit beside the figures it backs.
  const file = join(dir, 'latest.json');
  const dated = join(
    dir,
    `${meta.date.slice(0, 16).replace(':', '-')}${QUICK ? '-quick' : ''}.json`,
  );
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(
    {
      meta: { ...meta, loadavgAtEnd: os.loadavg(), seconds },
      config,
      throughput: groups,
      latency,
      memory,
      resize,
      batch,
      threads,
      context,
      placement,
      growth,
      targets: list,
    },
    null,
    2,
  );
  writeFileSync(file, json);
  writeFileSync(dated, json);
  out(`\nwrote ${file} and ${dated} (${seconds.toFixed(0)} s)`);
}

await main();

/**
 * Soak test: a million tasks over a hundred thousand sessions while the pool is resized at
 * random, checking the contract on every task and the heap at the end.
 *
 *   npm run soak                       # 1,000,000 tasks (about 100,000 sessions)
 *   SOAK_TASKS=100000 npm run soak     # scaled down; sessions = tasks / 10
 *   SOAK_SEED=7 npm run soak           # another seeded run
 *   SOAK_INJECT_LEAK=session npm run soak   # must FAIL: checks the heap check (or =task)
 *
 * Checked throughout (each one counted; any count above 0 fails the run):
 * - order: a session's tasks start in submission order (a retry re-runs the latest one only);
 * - exclusion: no task of a session starts while another of it is running;
 * - exactly once: every task settles once, with its own value (completed) or its own id
 *   (failed); no unexpected error; nothing reaches onUnhandledFailure;
 * - stats: at each resize, lane sums equal the pool totals and no lane runs above its
 *   concurrency; every lane removal resolves.
 * At the end: queued, running, active sessions and waiting callers are 0, the lanes are
 * back to the start count, counters add up, and the heap after a full GC is within
 * HEAP_MARGIN of the baseline taken after a warm-up on the same pool.
 *
 * Heap margin, 5 MiB: an idle session must hold no state and a settled task nothing at all.
 * Without a leak the heap after a full GC ends within 0.3 MB of the baseline (seeds 1-3 and
 * the default seed, 1,000,000 tasks). SOAK_INJECT_LEAK (below) measures what the check must
 * catch: one object shaped like the engine's per-session state left in a Map per session
 * adds about 10 MB over 100,000 sessions, one settled promise kept per task about 56 MB.
 * Scaled-down runs (SOAK_TASKS) keep the same margin, so they catch only larger leaks.
 */
import { Dispatcher, type TaskContext } from '../lib/core/index.js';
import { rng } from './rng.js';

const TASKS = positive('SOAK_TASKS', 1_000_000);
const SEED = positive('SOAK_SEED', 0x5eed);
const SESSIONS = Math.max(32, Math.round(TASKS / 10));
const WARMUP_TASKS = Math.min(100_000, Math.max(10_000, Math.round(TASKS / 10)));
const HOT_SESSIONS = 16;
/** The sliding window of sessions a task picks from: each session is busy for a while, then idle for good. */
const SPREAD = Math.min(2_000, SESSIONS - HOT_SESSIONS);
/** Most tasks in flight (accepted, not settled); refilled when half have settled. */
const WINDOW = 20_000;
const RESIZE_EVERY = 500;
const START_LANES = 8;
const MAX_LANES = 32;
const LANE_CONCURRENCY = 2;
const HEAP_MARGIN = 5 * 1024 * 1024;

const enum Kind {
  Sync,
  Hops,
  Immediate,
  Fail,
  Flaky,
}

const gcFn = globalThis.gc;
if (gcFn === undefined) {
  console.error('soak: run with node --expose-gc (npm run soak does).');
  process.exit(2);
}
const gc = async () => {
  for (let i = 0; i < 3; i++) {
    gcFn();
    await new Promise((r) => setImmediate(r));
  }
};

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`soak: ${name} must be an integer >= 1; got ${JSON.stringify(raw)}.`);
    process.exit(2);
  }
  return n;
}

const violations = {
  order: 0,
  exclusion: 0,
  settledTwice: 0,
  neverSettled: 0,
  wrongOutcome: 0,
  unexpectedError: 0,
  unhandledFailure: 0,
  stats: 0,
  removalNeverResolved: 0,
  final: 0,
};
const firstViolations: string[] = [];
function violation(kind: keyof typeof violations, detail: string): void {
  violations[kind]++;
  if (firstViolations.length < 10) firstViolations.push(`${kind}: ${detail}`);
}

const random = rng(SEED);
const pool = new Dispatcher({
  lanes: START_LANES,
  maxLanes: MAX_LANES,
  laneConcurrency: LANE_CONCURRENCY,
  onUnhandledFailure: (error, task) =>
    violation('unhandledFailure', `task ${task.taskId}: ${String(error)}`),
});
const FLAKY_RETRY = { attempts: 2, delayMs: 1, jitter: false };

/**
 * SOAK_INJECT_LEAK=session|task checks the checker: it retains, in the main phase, an object
 * shaped like the engine's per-session state (6 fields, in a Map keyed by session id) per
 * session, or a settled promise per task, so the heap check must fail.
 */
const INJECT_LEAK = process.env.SOAK_INJECT_LEAK;
const leakedSessions = new Map<string, object>();
const leakedTasks: Promise<unknown>[] = [];

/** Everything one phase records about its tasks, in typed arrays (off the JS heap). */
class Phase {
  readonly session: Int32Array;
  readonly seq: Int32Array;
  readonly kind: Uint8Array;
  readonly hops: Uint8Array;
  readonly settled: Uint8Array;
  readonly submitted: Int32Array;
  readonly nextStart: Int32Array;
  readonly running: Uint8Array;
  readonly ids: string[];
  inFlight = 0;
  done = 0;
  private wake: (() => void) | undefined;
  private low = 0;

  constructor(
    readonly name: string,
    readonly tasks: number,
    readonly sessions: number,
  ) {
    this.session = new Int32Array(tasks);
    this.seq = new Int32Array(tasks);
    this.kind = new Uint8Array(tasks);
    this.hops = new Uint8Array(tasks);
    this.settled = new Uint8Array(tasks);
    this.submitted = new Int32Array(sessions);
    this.nextStart = new Int32Array(sessions);
    this.running = new Uint8Array(sessions);
    // Session ids are made once, so the baseline heap already holds them.
    this.ids = Array.from({ length: sessions }, (_, s) => `${name}-${s}`);
  }

  /** Resolves once at most `low` tasks are in flight. */
  room(low: number): Promise<void> {
    if (this.inFlight <= low) return Promise.resolve();
    this.low = low;
    return new Promise((resolve) => (this.wake = resolve));
  }

  settle(k: number): void {
    if (this.settled[k]++ !== 0) violation('settledTwice', `${this.name} task ${k}`);
    this.inFlight--;
    this.done++;
    if (this.wake !== undefined && this.inFlight <= this.low) {
      const wake = this.wake;
      this.wake = undefined;
      wake();
    }
  }
}

let phase: Phase;

async function hops(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await undefined;
}
const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

function handler(k: number, ctx: TaskContext): number | Promise<number> {
  const p = phase;
  const s = p.session[k];
  const kind = p.kind[k];
  if (s >= 0) {
    if (ctx.attempt === 1) {
      if (p.seq[k] !== p.nextStart[s])
        violation('order', `${p.ids[s]}: started #${p.seq[k]}, expected #${p.nextStart[s]}`);
      p.nextStart[s] = p.seq[k] + 1;
    } else if (p.seq[k] !== p.nextStart[s] - 1) {
      violation('order', `${p.ids[s]}: retry of #${p.seq[k]} after #${p.nextStart[s] - 1}`);
    }
    if (p.running[s] !== 0) violation('exclusion', `${p.ids[s]}: #${p.seq[k]} overlaps`);
    p.running[s] = 1;
  }
  const end = (): number => {
    if (s >= 0) p.running[s] = 0;
    return k;
  };
  switch (kind) {
    case Kind.Sync:
      return end();
    case Kind.Hops:
      return hops(p.hops[k]).then(end);
    case Kind.Immediate:
      return immediate().then(end);
    case Kind.Fail:
      end();
      throw k; // a non-Error value: the caller must get exactly this back
    default: // Flaky: fails its first attempt after a turn, then succeeds
      return immediate().then(() => {
        end();
        if (ctx.attempt === 1) throw k;
        return k;
      });
  }
}
pool.registerHandler('work', handler, 'soak.handler');
pool.start();

// A lost settlement leaves nothing to wait for: the event loop empties before the end.
let finished = false;
process.on('beforeExit', () => {
  if (finished) return;
  const left = phase === undefined ? 'before the first phase' : `${phase.inFlight} tasks in flight`;
  console.log(`soak: FAILED: stalled with ${left} (a task never settled)`);
  process.exit(1);
});

const onCompleted = (value: unknown) => {
  const k = value as number;
  const kind = phase.kind[k];
  if (kind === Kind.Fail) violation('wrongOutcome', `task ${k} should have failed`);
  phase.settle(k);
};
const onFailed = (error: unknown) => {
  if (typeof error !== 'number') {
    violation('unexpectedError', String(error));
    return;
  }
  if (phase.kind[error] !== Kind.Fail)
    violation('wrongOutcome', `task ${error} failed (kind ${phase.kind[error]})`);
  phase.settle(error);
};

function pickKind(): Kind {
  const r = random();
  if (r < 0.6) return Kind.Sync;
  if (r < 0.88) return Kind.Hops;
  if (r < 0.98) return Kind.Immediate;
  if (r < 0.995) return Kind.Fail;
  return Kind.Flaky;
}

function submit(p: Phase, k: number): void {
  const kind = pickKind();
  p.kind[k] = kind;
  p.hops[k] = 1 + Math.floor(random() * 8);
  const r = random();
  let s: number;
  if (r < 0.05) {
    s = -1; // unkeyed
  } else if (r < 0.07) {
    s = Math.floor(random() * HOT_SESSIONS);
  } else {
    const center = HOT_SESSIONS + Math.floor((k * (p.sessions - HOT_SESSIONS)) / p.tasks);
    s = center + Math.floor(random() * SPREAD) - (SPREAD >> 1);
    s = Math.min(p.sessions - 1, Math.max(HOT_SESSIONS, s));
  }
  p.session[k] = s;
  if (s >= 0) p.seq[k] = p.submitted[s]++;
  p.inFlight++;
  const options =
    s < 0
      ? kind === Kind.Flaky
        ? { retry: FLAKY_RETRY }
        : undefined
      : kind === Kind.Flaky
        ? { sessionId: p.ids[s], retry: FLAKY_RETRY }
        : { sessionId: p.ids[s] };
  const settled = pool.submit('work', k, options).then(onCompleted, onFailed);
  if (INJECT_LEAK !== undefined && p.name === 's') {
    if (INJECT_LEAK === 'task') leakedTasks.push(settled);
    else if (s >= 0 && !leakedSessions.has(p.ids[s]))
      leakedSessions.set(p.ids[s], {
        id: p.ids[s],
        head: k,
        tail: k,
        size: 1,
        running: false,
        lane: null,
      });
  }
}

let resizes = 0;
let removals = 0;
let removalsResolved = 0;
let peakHeap = 0;
let peakLanes = 0;

function checkStats(where: string): void {
  const st = pool.stats();
  let queued = 0;
  let running = 0;
  for (const lane of st.lanes) {
    queued += lane.queued;
    running += lane.running;
    if (lane.running > lane.concurrency || lane.queued < 0)
      violation('stats', `${where}: lane ${lane.id} queued ${lane.queued} running ${lane.running}`);
  }
  if (queued !== st.queued || running !== st.running)
    violation(
      'stats',
      `${where}: lanes sum to ${queued}/${running}, pool says ${st.queued}/${st.running}`,
    );
  if (st.activeSessions > phase.inFlight)
    violation(
      'stats',
      `${where}: ${st.activeSessions} active sessions, ${phase.inFlight} tasks in flight`,
    );
}

function resizeAtRandom(): void {
  checkStats(`resize ${resizes}`);
  const live = pool.stats().lanes.filter((l) => !l.retiring);
  const r = random();
  const before = live.length;
  if (r < 0.4) {
    const to = 1 + Math.floor(random() * MAX_LANES);
    for (let i = to; i < before; i++) removals++;
    void pool.resize(to).then(() => (removalsResolved += Math.max(0, before - to)));
  } else if (r < 0.7 && before < MAX_LANES) {
    pool.addLane();
  } else if (before > 1) {
    removals++;
    void pool.removeLane(live[Math.floor(random() * before)].id).then(() => removalsResolved++);
  }
  resizes++;
  peakLanes = Math.max(peakLanes, pool.stats().lanes.length);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
}

async function run(p: Phase, resize: boolean): Promise<void> {
  phase = p;
  for (let k = 0; k < p.tasks;) {
    while (k < p.tasks && p.inFlight < WINDOW) {
      submit(p, k++);
      if (resize && k % RESIZE_EVERY === 0) resizeAtRandom();
    }
    await p.room(WINDOW >> 1);
  }
  await p.room(0);
  for (let k = 0; k < p.tasks; k++) {
    if (p.settled[k] === 0) violation('neverSettled', `${p.name} task ${k}`);
  }
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function main(): Promise<void> {
  const began = performance.now();
  const soak = new Phase('s', TASKS, SESSIONS);

  // Warm-up: the same code paths, on its own sessions, so JIT and pool structures settle.
  await run(new Phase('w', WARMUP_TASKS, Math.max(32, Math.round(WARMUP_TASKS / 10))), true);
  await pool.resize(START_LANES);
  phase = soak;
  await gc();
  const baseline = process.memoryUsage();
  peakHeap = baseline.heapUsed;

  const t0 = performance.now();
  await run(soak, true);
  const runMs = performance.now() - t0;

  // Let every lane removal finish: each must resolve once its lane has no running task.
  await pool.resize(START_LANES);
  for (let i = 0; i < 100 && removalsResolved < removals; i++) await immediate();
  if (removalsResolved !== removals)
    violation('removalNeverResolved', `${removals - removalsResolved} of ${removals}`);

  const st = pool.stats();
  const expect = (what: string, got: number, want: number) => {
    if (got !== want) violation('final', `${what}: ${got}, expected ${want}`);
  };
  expect('queued', st.queued, 0);
  expect('running', st.running, 0);
  expect('activeSessions', st.activeSessions, 0);
  expect('waiting', st.waiting, 0);
  expect('retrying', st.retrying, 0);
  expect('lanes', st.lanes.length, START_LANES);
  expect('completed + failed', st.completed + st.failed, st.accepted);
  expect('accepted', st.accepted, TASKS + WARMUP_TASKS);

  await gc();
  const after = process.memoryUsage();
  const growth = after.heapUsed - baseline.heapUsed;

  const report = await pool.drain();
  expect('drain cancelled', report.cancelled, 0);

  let failed = 0;
  let flaky = 0;
  let unkeyed = 0;
  for (let k = 0; k < TASKS; k++) {
    if (soak.kind[k] === Kind.Fail) failed++;
    if (soak.kind[k] === Kind.Flaky) flaky++;
    if (soak.session[k] < 0) unkeyed++;
  }
  const touched = soak.submitted.reduce((n, x) => n + (x > 0 ? 1 : 0), 0);
  const total = Object.values(violations).reduce((a, b) => a + b, 0);
  const heapOk = growth <= HEAP_MARGIN;

  console.log(
    `soak: ${TASKS.toLocaleString('en')} tasks (seed ${SEED}) after a ${WARMUP_TASKS.toLocaleString('en')}-task warm-up`,
  );
  console.log(
    `  sessions      ${touched.toLocaleString('en')} used of ${SESSIONS.toLocaleString('en')} (${HOT_SESSIONS} hot), ${unkeyed.toLocaleString('en')} unkeyed tasks`,
  );
  console.log(
    `  outcomes      ${(TASKS - failed).toLocaleString('en')} completed, ${failed.toLocaleString('en')} failed, ${flaky.toLocaleString('en')} retried once`,
  );
  console.log(
    `  resizes       ${resizes} random ops (${removals} lane removals, all resolved: ${removalsResolved === removals}), peak ${peakLanes} lanes incl. retiring, concurrency ${LANE_CONCURRENCY}`,
  );
  console.log(
    `  time          ${(runMs / 1000).toFixed(1)} s for the run (${Math.round(TASKS / (runMs / 1000)).toLocaleString('en')} tasks/s), ${((performance.now() - began) / 1000).toFixed(1)} s in all`,
  );
  console.log(
    `  heap          baseline ${mb(baseline.heapUsed)}, peak ${mb(peakHeap)} (sampled at resizes), after ${mb(after.heapUsed)}: ${growth >= 0 ? '+' : ''}${mb(growth)} (margin ${mb(HEAP_MARGIN)}) ${heapOk ? 'ok' : 'EXCEEDED'}`,
  );
  console.log(`  violations    ${total === 0 ? 'none' : JSON.stringify(violations)}`);
  for (const line of firstViolations) console.log(`    ${line}`);
  finished = true;
  if (total > 0 || !heapOk) {
    console.log('soak: FAILED');
    process.exit(1);
  }
  console.log('soak: ok');
}

main().catch((error: unknown) => {
  console.error('soak: crashed', error);
  process.exit(1);
});

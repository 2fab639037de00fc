/**
 * Batch handlers under random interleavings: submits (keyed and unkeyed, with or without a
 * retry), batch calls released in random order with success or failure, caller aborts,
 * time passing, lanes added and removed. Every batch call waits on a deferred that only a
 * later command settles, so the interleaving replays from fast-check's seed.
 *
 * Some runs rate-limit the type: each task takes a token as it joins a batch.
 *
 * Checked at each batch call: at most maxSize tasks, at most one per session, no task of a
 * session already in a running call, each session's tasks in submission order (a retry
 * before the session's later tasks), and under a rate limit no more attempts started so far
 * than the bucket allows (tasks + elapsed * tasks / intervalMs: a task's token is taken as it
 * joins, before its call starts). After each command: stats().running equals the tasks
 * of unsettled calls, stats().batches the calls seen. At the end, after releasing
 * everything and draining: every task settled exactly once, with its last call's outcome
 * (or TaskCancelledError for an abort before it started), nothing queued, batched, running
 * or active, no timer left.
 */
import { jest } from '@jest/globals';
import fc from 'fast-check';
import {
  type BatchContext,
  type BatchItem,
  Dispatcher,
  type RateLimit,
  TaskCancelledError,
} from '../../lib/core/index.js';
import { type Deferred, deferred, flush } from '../support/deferred.js';
import { assertWithin, propertyRuns } from './runs.js';

const RUNS = propertyRuns(300);
// A run takes a few ms; leave room for slow CI machines and soak runs (as the other suites do).
const TIMEOUT_MS = Math.max(60_000, RUNS * 25);

type Op =
  | { op: 'submit'; session: number; attempts: 1 | 2 }
  | { op: 'release'; pick: number; ok: boolean }
  | { op: 'abort'; pick: number }
  | { op: 'tick'; ms: number }
  | { op: 'add' }
  | { op: 'remove'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('submit' as const),
      session: fc.integer({ min: -1, max: 4 }),
      attempts: fc.constantFrom(1 as const, 2 as const),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat(), ok: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('abort' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 25 }) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('add' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }) },
);

interface Sub {
  id: number;
  session: string | undefined;
  abort: AbortController;
  settled: Array<{ ok: boolean; value: unknown }>;
  /** The outcome of the last call it was part of. */
  last?: { ok: boolean; value: unknown };
}

interface Call {
  subs: Sub[];
  gate: Deferred<void>;
  ok?: boolean;
}

async function run(
  config: {
    lanes: number;
    laneConcurrency: number;
    maxSize: number;
    maxWaitMs: number;
    rateLimit: RateLimit | null;
  },
  ops: Op[],
): Promise<void> {
  const t0 = Date.now();
  let attemptsStarted = 0;
  const pool = new Dispatcher({ lanes: config.lanes, laneConcurrency: config.laneConcurrency });
  const subs: Sub[] = [];
  const byId = new Map<number, Sub>();
  const calls: Call[] = [];
  const held: Call[] = [];
  const running = new Set<Sub>();
  const startedOrder = new Map<string, number[]>();
  const problems: string[] = [];

  pool.registerHandler(
    'write',
    async (items: BatchItem<number>[], ctx: BatchContext) => {
      const batch = items.map((i) => byId.get(i.payload)!);
      if (batch.length > config.maxSize) problems.push(`batch of ${batch.length}`);
      if (ctx.size !== batch.length) problems.push('ctx.size differs');
      const sessions = batch.map((s) => s.session).filter((s) => s !== undefined);
      if (new Set(sessions).size !== sessions.length)
        problems.push(`two tasks of a session in one batch`);
      for (const sub of batch) {
        if (running.has(sub)) problems.push(`task ${sub.id} runs twice at once`);
        for (const other of running)
          if (sub.session !== undefined && other.session === sub.session)
            problems.push(`session ${sub.session} runs ${other.id} and ${sub.id} at once`);
        running.add(sub);
        if (sub.session !== undefined) {
          const order = startedOrder.get(sub.session) ?? [];
          if (order.length > 0 && order[order.length - 1] > sub.id)
            problems.push(`session ${sub.session}: ${sub.id} after ${order[order.length - 1]}`);
          order.push(sub.id);
          startedOrder.set(sub.session, order);
        }
      }
      attemptsStarted += batch.length;
      const limit = config.rateLimit;
      if (limit !== null) {
        const allowed = limit.tasks + ((Date.now() - t0) * limit.tasks) / limit.intervalMs;
        if (attemptsStarted > allowed + 1e-9)
          problems.push(`${attemptsStarted} attempts started, the rate limit allows ${allowed}`);
      }
      const call: Call = { subs: batch, gate: deferred() };
      calls.push(call);
      held.push(call);
      await call.gate.promise;
      for (const sub of batch) running.delete(sub);
      const value = batch.map((s) => `ok ${s.id}`);
      for (const sub of batch)
        sub.last = call.ok ? { ok: true, value: `ok ${sub.id}` } : { ok: false, value: 'boom' };
      if (!call.ok) throw 'boom';
      return value;
    },
    {
      batch: { maxSize: config.maxSize, maxWaitMs: config.maxWaitMs },
      rateLimit: config.rateLimit ?? undefined,
    },
  );
  pool.start();
  const release = (call: Call, ok: boolean) => {
    held.splice(held.indexOf(call), 1);
    call.ok = ok;
    call.gate.resolve();
  };
  const removals: Promise<void>[] = [];

  for (const op of ops) {
    switch (op.op) {
      case 'submit': {
        const sub: Sub = {
          id: subs.length + 1,
          session: op.session < 0 ? undefined : `s${op.session}`,
          abort: new AbortController(),
          settled: [],
        };
        subs.push(sub);
        byId.set(sub.id, sub);
        pool
          .submit('write', sub.id, {
            sessionId: sub.session,
            signal: sub.abort.signal,
            retry: { attempts: op.attempts, delayMs: 5, jitter: false },
          })
          .then(
            (value) => sub.settled.push({ ok: true, value }),
            (value) => sub.settled.push({ ok: false, value }),
          );
        break;
      }
      case 'release':
        if (held.length > 0) release(held[op.pick % held.length], op.ok);
        break;
      case 'abort':
        if (subs.length > 0) subs[op.pick % subs.length].abort.abort('stop');
        break;
      case 'tick':
        await jest.advanceTimersByTimeAsync(op.ms);
        break;
      case 'add':
        if (pool.stats().lanes.filter((l) => !l.retiring).length < 4) pool.addLane();
        break;
      case 'remove': {
        const live = pool.stats().lanes.filter((l) => !l.retiring);
        if (live.length > 1) removals.push(pool.removeLane(live[op.pick % live.length].id));
        break;
      }
    }
    await flush(30);
    const stats = pool.stats();
    expect(problems).toEqual([]);
    expect(stats.running).toBe(running.size);
    expect(stats.batches).toBe(calls.length);
  }

  // Let everything finish: release every call, let retries and gathering timers fire.
  for (let round = 0; round < 200 && subs.some((s) => s.settled.length === 0); round++) {
    for (const call of [...held]) release(call, true);
    await flush(30);
    await jest.advanceTimersByTimeAsync(
      Math.max(config.maxWaitMs, config.rateLimit?.intervalMs ?? 0) + 5,
    );
  }
  const report = await pool.drain();
  await Promise.all(removals);
  expect(problems).toEqual([]);
  for (const sub of subs) {
    expect(sub.settled).toHaveLength(1);
    const [outcome] = sub.settled;
    if (sub.last === undefined) {
      // Never ran: only its caller's abort can have ended it.
      expect(outcome.value).toBeInstanceOf(TaskCancelledError);
    } else if (outcome.value instanceof TaskCancelledError) {
      // Aborted while it waited to retry.
      expect(sub.last.ok).toBe(false);
    } else {
      expect(outcome).toEqual(sub.last);
    }
  }
  const stats = pool.stats();
  expect(stats).toMatchObject({
    state: 'stopped',
    queued: 0,
    running: 0,
    batching: 0,
    activeSessions: 0,
    accepted: subs.length,
  });
  expect(stats.completed + stats.failed + stats.cancelled).toBe(subs.length);
  expect(report.cancelled).toBe(0);
  expect(jest.getTimerCount()).toBe(0);
}

describe('batch handlers (property)', () => {
  afterEach(() => jest.useRealTimers());

  it(
    'keep order, exclusion and exactly-once settlement under random interleavings',
    async () => {
      await assertWithin(
        fc.tuple(
          fc.record({
            lanes: fc.integer({ min: 1, max: 3 }),
            laneConcurrency: fc.integer({ min: 1, max: 2 }),
            maxSize: fc.integer({ min: 1, max: 4 }),
            maxWaitMs: fc.constantFrom(0, 3, 10),
            rateLimit: fc.option(
              fc.record({
                tasks: fc.integer({ min: 1, max: 3 }),
                intervalMs: fc.constantFrom(5, 10, 20),
              }),
            ),
          }),
          fc.array(opArb, { minLength: 1, maxLength: 60 }),
        ),
        async ([config, ops]) => {
          jest.useFakeTimers();
          try {
            await run(config, ops);
          } finally {
            jest.useRealTimers();
          }
        },
        { numRuns: RUNS },
        TIMEOUT_MS,
      );
    },
    TIMEOUT_MS,
  );
});

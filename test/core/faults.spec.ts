import { jest } from '@jest/globals';
import { config } from 'rxjs';
import {
  Dispatcher,
  DuplicateHandlerError,
  EventSubscriberError,
  InvalidOptionError,
  PoolClosedError,
  type PoolEvent,
  TaskCancelledError,
  TaskTimeoutError,
  UnknownLaneError,
  UnknownTaskTypeError,
  WorkerPoolError,
} from '../../lib/core/index.js';
import { SlotTable } from '../../lib/core/placement/slot-table.js';
import { deferred, flush } from '../support/deferred.js';
import { failure } from '../support/errors.js';

/**
 * Fault injection against the engine: handlers that hang, throw or reject with odd values,
 * subscribers that throw, bad arguments, calls at the wrong time, odd payloads. Every test
 * is deterministic: fake timers or explicit deferreds, never a race against a real sleep.
 * The 'engine defects' block holds reproductions of defects this suite found, now fixed.
 */

afterEach(() => jest.useRealTimers());

/** Watches a promise without awaiting it. */
function watch<T>(promise: Promise<T>) {
  const w = {
    settled: false,
    ok: false,
    value: undefined as T | undefined,
    error: undefined as unknown,
  };
  promise.then(
    (value) => Object.assign(w, { settled: true, ok: true, value }),
    (error: unknown) => Object.assign(w, { settled: true, error }),
  );
  return w;
}

const never = new Promise<never>(() => undefined);

/** Session ids homed on each lane of a fresh pool of `lanes` lanes (default virtual nodes). */
function sessionsByLane(lanes: number, perLane: number): string[][] {
  const table = new SlotTable();
  for (let id = 0; id < lanes; id++) table.add(id);
  const byLane: string[][] = Array.from({ length: lanes }, () => []);
  for (let i = 0; byLane.some((l) => l.length < perLane); i++) {
    const id = `s${i}`;
    const lane = byLane[table.lookup(id)];
    if (lane.length < perLane) lane.push(id);
  }
  return byLane;
}

describe('a handler that never settles', () => {
  it('with graceMs: Infinity, is awaited by drain for as long as it hangs; at the deadline its ctx.signal aborts with TaskCancelledError reason "deadline"', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    let signal: AbortSignal | undefined;
    pool.registerHandler('hang', (_: unknown, ctx) => {
      signal = ctx.signal;
      return never;
    });
    pool.start();
    const hung = watch(pool.submit('hang', null, { sessionId: 'h' }));
    const behind = watch(pool.submit('hang', null, { sessionId: 'h' }));
    await flush();
    expect(pool.stats()).toMatchObject({ running: 1, queued: 1 });

    const drained = watch(pool.drain(1_000, { graceMs: Infinity }));
    expect(pool.accepting).toBe(false);
    await jest.advanceTimersByTimeAsync(999);
    expect(signal!.aborted).toBe(false);
    expect(behind.settled).toBe(false);

    await jest.advanceTimersByTimeAsync(1);
    expect(signal!.aborted).toBe(true);
    expect(signal!.reason).toBeInstanceOf(TaskCancelledError);
    expect(signal!.reason).toMatchObject({
      reason: 'deadline',
      taskId: 1,
      code: 'TASK_CANCELLED',
      message: expect.stringMatching(/Task 1 is still running at the pool's drain deadline/),
    });
    // The task queued behind it is cancelled, not awaited.
    expect(behind.error).toBeInstanceOf(TaskCancelledError);
    expect(behind.error).toMatchObject({ reason: 'shutdown', taskId: 2 });

    // With no grace limit the hung handler is awaited without end (an hour here).
    await jest.advanceTimersByTimeAsync(3_600_000);
    expect(drained.settled).toBe(false);
    expect(hung.settled).toBe(false);
    expect(pool.stats()).toMatchObject({ state: 'draining', running: 1, queued: 0 });
  });

  it('is abandoned when the grace period after the drain deadline runs out: its caller gets TaskAbandonedError, drain resolves', async () => {
    jest.useFakeTimers();
    const unhandled: unknown[] = [];
    const pool = new Dispatcher({ lanes: 1, onUnhandledFailure: (e) => unhandled.push(e) });
    const release = deferred<string>();
    pool.registerHandler('hang', () => release.promise);
    pool.start();
    const hung = watch(pool.submit('hang', null, { sessionId: 'h' }));
    await pool.enqueue('hang', null, { sessionId: 'u' }); // nobody awaits this one
    await flush();
    expect(pool.stats().running).toBe(1); // one lane: 'u' waits behind 'h'
    const drained = watch(pool.drain(1_000, { graceMs: 2_000 }));
    await jest.advanceTimersByTimeAsync(1_000 + 1_999);
    expect(hung.settled).toBe(false);
    expect(drained.settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(hung.error).toMatchObject({
      name: 'TaskAbandonedError',
      code: 'TASK_ABANDONED',
      taskId: 1,
      message: expect.stringMatching(/still running 2000 ms after the drain deadline/),
    });
    // The messages name the option a user sets: drainGraceMs / drainTimeoutMs (Nest), or
    // drain()'s arguments without Nest.
    expect((hung.error as Error).message).toMatch(
      /or raise "drainGraceMs" \(Nest module option; drain\(deadlineMs, \{ graceMs \}\) without Nest\)\.$/,
    );
    expect((unhandled[0] as Error).message).toMatch(
      /Raise "drainTimeoutMs" \(Nest module option; drain\(deadlineMs\) without Nest\) or submit fewer tasks before shutdown\.$/,
    );
    expect(drained.value).toMatchObject({
      deadlineReached: true,
      runningAtDeadline: 1,
      abandonedTasks: [{ taskId: 1, type: 'hang', sessionId: 'h' }],
      cancelledTasks: [{ taskId: 2, type: 'hang', sessionId: 'u', reason: 'shutdown' }],
    });
    expect(unhandled).toEqual([expect.objectContaining({ reason: 'shutdown', taskId: 2 })]);
    expect(pool.stats()).toMatchObject({ state: 'stopped', running: 0, activeSessions: 0 });
    // What the abandoned handler does later changes no outcome.
    release.resolve('too late');
    await flush();
    expect(hung.error).toMatchObject({ name: 'TaskAbandonedError' });
    expect(pool.stats()).toMatchObject({ completed: 0, abandoned: 1, lateSettlements: 1 });
  });

  it('lets drain finish once a handler follows its ctx.signal, reporting it as running at the deadline', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    pool.registerHandler(
      'polite',
      (_: unknown, ctx) =>
        new Promise((_resolve, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
        ),
    );
    pool.start();
    const task = pool.submit('polite', null, { sessionId: 'p' }).catch((e: unknown) => e);
    await flush();
    const report = pool.drain(500);
    await jest.advanceTimersByTimeAsync(500);
    await expect(report).resolves.toMatchObject({
      deadlineReached: true,
      runningAtDeadline: 1,
      failed: 1,
      cancelled: 0,
    });
    expect(await task).toMatchObject({ name: 'TaskCancelledError', reason: 'deadline' });
    expect(pool.stats().state).toBe('stopped');
  });

  it('holds only its own session on a lane of concurrency > 1: the lane serves its other sessions', async () => {
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 2 });
    const done: string[] = [];
    pool.registerHandler('hang', () => never);
    pool.registerHandler('work', async (p: string) => {
      await flush(2);
      done.push(p);
    });
    pool.start();
    const hung = watch(pool.submit('hang', null, { sessionId: 'h' }));
    const hungNext = watch(pool.submit('work', 'h1', { sessionId: 'h' }));
    const others = ['a', 'b', 'c'].flatMap((s) =>
      [1, 2, 3].map((i) => pool.submit('work', `${s}${i}`, { sessionId: s })),
    );
    await Promise.all(others);
    for (const s of ['a', 'b', 'c'])
      expect(done.filter((p) => p.startsWith(s))).toEqual([`${s}1`, `${s}2`, `${s}3`]);
    // Its own session stays behind it: exclusion holds even for a hung handler.
    expect(hung.settled).toBe(false);
    expect(hungNext.settled).toBe(false);
    expect(pool.stats()).toMatchObject({ running: 1, queued: 1, activeSessions: 1 });
  });

  it('does not stop other lanes; on a lane of concurrency 1 it blocks that lane until the lane is removed', async () => {
    // The ring: sessions homed on the hung lane go there even while it is loaded.
    const pool = new Dispatcher({ lanes: 2, placement: 'ring' });
    const [on0, on1] = sessionsByLane(2, 4);
    // The hung session is the first one homed on lane 0.
    const [hungSession, ...sameLane] = on0;
    pool.registerHandler('hang', () => never);
    pool.registerHandler('work', (p: string, ctx) => `${p}@${ctx.laneId}`);
    pool.start();
    const hung = watch(pool.submit('hang', null, { sessionId: hungSession }));
    const hungNext = watch(pool.submit('work', 'next', { sessionId: hungSession }));
    await flush();
    expect(pool.stats().lanes.map((l) => l.running)).toEqual([1, 0]);

    // Other lanes go on.
    await expect(
      Promise.all(on1.map((s) => pool.submit('work', s, { sessionId: s }))),
    ).resolves.toEqual(on1.map((s) => `${s}@1`));
    // Unkeyed work avoids the loaded lane.
    await expect(pool.submit('work', 'unkeyed')).resolves.toBe('unkeyed@1');

    // Current behaviour: with laneConcurrency 1, sessions homed on the hung lane wait.
    const waiting = sameLane.map((s) => watch(pool.submit('work', s, { sessionId: s })));
    await flush();
    expect(waiting.every((w) => !w.settled)).toBe(true);
    expect(pool.stats().lanes[0]).toMatchObject({ id: 0, running: 1, queued: 1 + sameLane.length });

    // Removing the hung lane moves its waiting sessions to a live lane, where they run ...
    const removed = watch(pool.removeLane(0));
    await flush();
    expect(waiting.map((w) => w.value)).toEqual(sameLane.map((s) => `${s}@1`));
    // ... but the hung session's own queue stays behind its hung task, and the lane is only
    // gone once that task settles.
    expect(hung.settled).toBe(false);
    expect(hungNext.settled).toBe(false);
    expect(removed.settled).toBe(false);
    expect(pool.stats().lanes).toMatchObject([
      { id: 1, retiring: false },
      { id: 0, retiring: true, running: 1 },
    ]);
  });

  it('with timeoutMs: the caller gets TaskTimeoutError and the lane is freed, but the session (and a drain with graceMs: Infinity) still waits for it', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    const ran: string[] = [];
    pool.registerHandler('hang', () => never, { timeoutMs: 1_000 });
    pool.registerHandler('work', (p: string) => void ran.push(p));
    pool.start();
    const hung = pool.submit('hang', null, { sessionId: 'h' }).catch((e: unknown) => e);
    const hungNext = watch(pool.submit('work', 'h-next', { sessionId: 'h' }));
    const other = watch(pool.submit('work', 'other', { sessionId: 'o' }));
    await flush();
    expect(other.settled).toBe(false); // one lane of concurrency 1: blocked until the timeout
    await jest.advanceTimersByTimeAsync(1_000);
    expect(await hung).toBeInstanceOf(TaskTimeoutError);
    expect(other.ok).toBe(true);
    expect(ran).toEqual(['other']);
    expect(hungNext.settled).toBe(false); // overlapOnTimeout is off: its session waits

    const drained = watch(pool.drain(5_000, { graceMs: Infinity }));
    await jest.advanceTimersByTimeAsync(5_000);
    expect(hungNext.error).toMatchObject({ name: 'TaskCancelledError', reason: 'shutdown' });
    await jest.advanceTimersByTimeAsync(3_600_000);
    expect(drained.settled).toBe(false); // the late handler is still awaited
    expect(pool.stats()).toMatchObject({ state: 'draining', running: 0, queued: 0, timedOut: 1 });
  });
});

describe('a handler that throws synchronously', () => {
  it.each([
    ['without a timeout', {}],
    ['with a timeout', { timeoutMs: 60_000 }],
  ])('%s fails only its own task: its session, lane and pool go on', async (_, policy) => {
    const unhandled: unknown[] = [];
    const pool = new Dispatcher({ lanes: 1, onUnhandledFailure: (e) => unhandled.push(e) });
    const boom = new TypeError('sync boom');
    const started: string[] = [];
    pool.registerHandler(
      't',
      (p: string) => {
        started.push(p);
        if (p.startsWith('throw')) throw boom;
        return p;
      },
      policy,
    );
    pool.start();
    const results = ['throw1', 'ok1', 'throw2', 'ok2'].map((p) =>
      pool.submit('t', p, { sessionId: 's' }).then(
        (v) => ['ok', v],
        (e: unknown) => ['err', e],
      ),
    );
    await pool.enqueue('t', 'throw-enqueued', { sessionId: 's' });
    const last = pool.submit('t', 'ok3', { sessionId: 's' });
    expect(await Promise.all(results)).toEqual([
      ['err', boom],
      ['ok', 'ok1'],
      ['err', boom],
      ['ok', 'ok2'],
    ]);
    (await Promise.all(results)).forEach(([kind, v]) => kind === 'err' && expect(v).toBe(boom));
    await expect(last).resolves.toBe('ok3');
    expect(started).toEqual(['throw1', 'ok1', 'throw2', 'ok2', 'throw-enqueued', 'ok3']);
    expect(unhandled).toEqual([boom]);
    expect(unhandled[0]).toBe(boom);
    expect(pool.stats()).toMatchObject({
      failed: 3,
      completed: 3,
      running: 0,
      queued: 0,
      activeSessions: 0,
    });
  });

  it('is retried like a rejection when the handler has a retry policy', async () => {
    const pool = new Dispatcher();
    const attempts: number[] = [];
    pool.registerHandler(
      't',
      (_: unknown, ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt}`);
        return 'third time';
      },
      { retry: { attempts: 3, delayMs: 0, jitter: false } },
    );
    pool.start();
    await expect(pool.submit('t', null, { sessionId: 's' })).resolves.toBe('third time');
    expect(attempts).toEqual([1, 2, 3]);
  });
});

describe('a handler that rejects with a value that is not an Error', () => {
  const NOT_REJECTED = Symbol('not rejected');
  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['0', 0],
    ['a number', 42],
    ['NaN', NaN],
    ['an empty string', ''],
    ['a plain object', { code: 'E_REMOTE', retryable: false }],
    ['a null-prototype object', Object.create(null)],
    ['a symbol', Symbol('odd')],
    ['an array', [1, 2]],
  ])(
    '%s: every path hands the very same value to the caller, the hooks and events$',
    async (_, value) => {
      const unhandled: unknown[] = [];
      const deadLetters: unknown[] = [];
      const pool = new Dispatcher({
        lanes: 1,
        onUnhandledFailure: (e) => unhandled.push(e),
        onDeadLetter: (e) => deadLetters.push(e),
      });
      pool.registerHandler('reject', () => Promise.reject(value));
      pool.registerHandler('throw', () => {
        throw value;
      });
      pool.registerHandler('timed', () => Promise.reject(value), { timeoutMs: 60_000 });
      pool.registerHandler('retried', () => Promise.reject(value), {
        retry: { attempts: 2, delayMs: 0, jitter: false },
      });
      pool.registerHandler('ok', () => 'ok');
      const failed: unknown[] = [];
      pool.events$.subscribe((e) => e.type === 'failed' && failed.push(e.error));
      pool.start();

      for (const type of ['reject', 'throw', 'timed', 'retried']) {
        const got = await pool.submit(type, null, { sessionId: 's' }).then(
          () => NOT_REJECTED,
          (e: unknown) => e,
        );
        expect(Object.is(got, value)).toBe(true);
      }
      await pool.enqueue('reject', null, { sessionId: 's' });
      await expect(pool.submit('ok', null, { sessionId: 's' })).resolves.toBe('ok');

      expect(unhandled).toHaveLength(1);
      expect(Object.is(unhandled[0], value)).toBe(true);
      expect(deadLetters).toHaveLength(1);
      expect(Object.is(deadLetters[0], value)).toBe(true);
      expect(failed).toHaveLength(5);
      expect(failed.every((e) => Object.is(e, value))).toBe(true);
      expect(pool.stats()).toMatchObject({
        failed: 5,
        completed: 1,
        retried: 1,
        deadLettered: 1,
        activeSessions: 0,
      });
    },
  );
});

describe('an events$ subscriber that throws', () => {
  /** Runs one fixed scenario and returns what a well-behaved subscriber saw. */
  async function scenario(withThrowingSubscriber: boolean, heard: EventSubscriberError[] = []) {
    const pool = new Dispatcher({
      lanes: 2,
      maxLanes: 4,
      onSubscriberError: (e) => heard.push(e),
    });
    pool.registerHandler('ok', (n: number) => n);
    pool.registerHandler('bad', () => {
      throw new Error('task failed');
    });
    let throwerCalls = 0;
    if (withThrowingSubscriber) {
      pool.events$.subscribe({
        next: (e) => {
          throwerCalls++;
          throw new Error(`subscriber bug on ${e.type}`);
        },
        complete: () => {
          throw new Error('subscriber bug on complete');
        },
      });
    }
    const seen: PoolEvent[] = [];
    let completed = false;
    pool.events$.subscribe({ next: (e) => seen.push(e), complete: () => (completed = true) });
    pool.start();
    const outcomes = await Promise.all([
      pool.submit('ok', 1, { sessionId: 's' }),
      pool.submit('bad', 2, { sessionId: 's' }).catch((e: Error) => e.message),
      pool.submit('ok', 3),
    ]);
    await pool.resize(4);
    await pool.resize(1);
    const report = await pool.drain();
    const { accepted, completed: done, failed, state, activeSessions } = pool.stats();
    return {
      outcomes,
      report: { ...report, durationMs: 0 },
      stats: { accepted, done, failed, state, activeSessions },
      seen,
      completed,
      throwerCalls,
    };
  }

  it('changes nothing: the same outcomes, events, resizes and drain as without it; onSubscriberError hears each throw and rxjs none', async () => {
    const escaped: unknown[] = [];
    const previous = config.onUnhandledError;
    config.onUnhandledError = (e) => escaped.push(e);
    try {
      const reported: EventSubscriberError[] = [];
      const clean = await scenario(false);
      const faulty = await scenario(true, reported);
      // rxjs would report subscriber errors on a timer created before this one.
      await new Promise((r) => setTimeout(r, 0));

      expect(faulty.outcomes).toEqual([1, 'task failed', 3]);
      expect(faulty.outcomes).toEqual(clean.outcomes);
      expect(faulty.report).toEqual(clean.report);
      expect(faulty.stats).toEqual({
        accepted: 3,
        done: 2,
        failed: 1,
        state: 'stopped',
        activeSessions: 0,
      });
      expect(faulty.stats).toEqual(clean.stats);
      expect(faulty.seen).toEqual(clean.seen);
      expect(faulty.seen.map((e) => e.type)).toEqual(
        expect.arrayContaining(['lane-added', 'lane-retiring', 'lane-removed', 'drained']),
      );
      expect(faulty.completed).toBe(true);
      expect(faulty.throwerCalls).toBe(faulty.seen.length);
      expect(reported).toHaveLength(faulty.seen.length + 1);
      expect(reported.map((e) => (e.cause as Error).message)).toEqual([
        ...faulty.seen.map((e) => `subscriber bug on ${e.type}`),
        'subscriber bug on complete',
      ]);
      expect(reported.at(-1)).toMatchObject({ channel: 'complete', eventType: undefined });
      expect(escaped).toEqual([]);
    } finally {
      config.onUnhandledError = previous;
    }
  });
});

describe('resize, addLane and removeLane with bad arguments', () => {
  it.each<[string, unknown]>([
    ['0', 0],
    ['a negative number', -2],
    ['NaN', NaN],
    ['a non-integer', 2.5],
    ['more than maxLanes', 5],
    ['Infinity', Infinity],
    ['a numeric string', '3'],
    ['undefined', undefined],
  ])(
    'resize(%s) throws InvalidOptionError naming "lanes" and the range, and changes nothing',
    async (_, n) => {
      const pool = new Dispatcher({ lanes: 2, maxLanes: 4 });
      const error = await failure(() => pool.resize(n as number));
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error).toMatchObject({ code: 'INVALID_OPTION', option: 'lanes' });
      expect((error as Error).message).toMatch(
        // A numeric string is told how to convert (as a value read from config would be).
        /^Invalid option "lanes": got .*; expected an integer from 1 to maxLanes \(4\)\.( Values read from the environment are strings: convert them first, e\.g\. Number\(config\.get\('POOL_LANES'\)\)\.)?$/,
      );
      expect(pool.stats().lanes.map((l) => l.id)).toEqual([0, 1]);
      await pool.resize(4); // still usable
      expect(pool.stats().lanes).toHaveLength(4);
    },
  );

  it('documents that resize and removeLane throw synchronously instead of returning a rejected promise', () => {
    const pool = new Dispatcher({ lanes: 1 });
    expect(() => pool.resize(0)).toThrow(InvalidOptionError);
    expect(() => pool.removeLane(7)).toThrow(UnknownLaneError);
  });

  it('addLane beyond maxLanes throws InvalidOptionError naming maxLanes', () => {
    const pool = new Dispatcher({ lanes: 2, maxLanes: 2 });
    expect(() => pool.addLane()).toThrow(InvalidOptionError);
    expect(() => pool.addLane()).toThrow(
      'Invalid option "lanes": got 3; expected at most maxLanes (2).',
    );
  });

  it('removeLane of an unknown lane throws UnknownLaneError listing the current lanes', async () => {
    const pool = new Dispatcher({ lanes: 3 });
    for (const id of [1.5, NaN]) {
      const error = await failure(() => pool.removeLane(id));
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as Error).message).toMatch(
        /"laneId".*an integer lane id, as listed in stats\(\)\.lanes/,
      );
    }
    for (const id of [3, -1]) {
      const error = await failure(() => pool.removeLane(id));
      expect(error).toBeInstanceOf(UnknownLaneError);
      expect(error).toMatchObject({ code: 'UNKNOWN_LANE', laneId: id, known: [0, 1, 2] });
      expect((error as Error).message).toBe(
        `No lane with id ${id}. Current lanes: 0, 1, 2. Read lane ids from stats().lanes.`,
      );
    }
  });

  it('removeLane of a lane already retiring throws UnknownLaneError', async () => {
    const pool = new Dispatcher({ lanes: 2 });
    const gate = deferred();
    pool.registerHandler('hold', () => gate.promise);
    pool.start();
    const [on0] = sessionsByLane(2, 1);
    const held = pool.submit('hold', null, { sessionId: on0[0] });
    await flush();
    const gone = pool.removeLane(0);
    expect(() => pool.removeLane(0)).toThrow(UnknownLaneError);
    expect(() => pool.removeLane(0)).toThrow('No lane with id 0. Current lanes: 1.');
    gate.resolve();
    await Promise.all([held, gone]);
  });

  it('removeLane of the last lane throws InvalidOptionError, also when lanes are removed one after another', async () => {
    const pool = new Dispatcher({ lanes: 2 });
    const first = pool.removeLane(0);
    const error = await failure(() => pool.removeLane(1));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({ option: 'laneId', value: 1 });
    expect((error as Error).message).toBe(
      'Invalid option "laneId": got 1; expected a lane other than the last one: a pool keeps at least one lane.',
    );
    await first;
    expect(pool.stats().lanes.map((l) => l.id)).toEqual([1]);
  });
});

describe('calls after shutdown', () => {
  it('submit and enqueue while draining and once stopped fail with PoolClosedError naming the state', async () => {
    const pool = new Dispatcher();
    const gate = deferred();
    pool.registerHandler('hold', () => gate.promise);
    pool.start();
    const held = pool.submit('hold', null, { sessionId: 's' });
    await flush();
    const drained = pool.drain();

    for (const call of [
      () => pool.submit('hold', null),
      () => pool.enqueue('hold', null, { sessionId: 's' }),
    ]) {
      const promise = call(); // a promise either way: neither call throws synchronously
      const error = await failure(() => promise);
      expect(error).toBeInstanceOf(PoolClosedError);
      expect(error).toMatchObject({ code: 'POOL_CLOSED', state: 'draining' });
      expect((error as Error).message).toBe(
        'The worker pool is draining and accepts no new tasks. Submit before shutdown starts, or check dispatcher.accepting first.',
      );
    }
    gate.resolve();
    await Promise.all([held, drained]);

    for (const call of [() => pool.submit('hold', null), () => pool.enqueue('hold', null)]) {
      const error = await failure(call);
      expect(error).toBeInstanceOf(PoolClosedError);
      expect((error as Error).message).toMatch(
        /^The worker pool is stopped and accepts no new tasks/,
      );
    }
    // Even a call that is wrong in other ways is told first that the pool is closed.
    await expect(pool.submit('no-such-type', null)).rejects.toThrow(PoolClosedError);
    expect(pool.stats()).toMatchObject({ rejected: 5, accepted: 1, completed: 1 });
  });

  it('a drain before start runs what was queued instead of losing it', async () => {
    const pool = new Dispatcher();
    const ran: number[] = [];
    pool.registerHandler('t', (n: number) => void ran.push(n));
    const work = [1, 2, 3].map((n) => pool.submit('t', n, { sessionId: 's' }));
    const report = await pool.drain();
    await Promise.all(work);
    expect(ran).toEqual([1, 2, 3]);
    expect(report).toMatchObject({ completed: 3, cancelled: 0 });
    pool.start(); // a no-op once stopped
    expect(pool.stats().state).toBe('stopped');
  });
});

describe('drain called twice', () => {
  it('returns the same drain when called again, concurrently or after it finished; a later, sooner deadline brings it forward, a later one does not put it back', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    const gate = deferred();
    pool.registerHandler('hold', () => gate.promise);
    pool.start();
    const running = pool.submit('hold', null, { sessionId: 's' });
    const queued = watch(pool.submit('hold', null, { sessionId: 's' }));
    await flush();

    const first = pool.drain(1_000);
    const second = pool.drain(5_000); // later: changes nothing
    expect(() => pool.drain(-1)).toThrow(InvalidOptionError); // still checked
    const third = pool.drain(100); // sooner: the deadline is now 100 ms away
    expect(second).toBe(first);
    expect(third).toBe(first);
    await jest.advanceTimersByTimeAsync(99);
    expect(queued.settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(queued.error).toMatchObject({ name: 'TaskCancelledError', reason: 'shutdown' });
    gate.resolve();
    await running;
    const [a, b] = await Promise.all([first, second]);
    expect(a).toBe(b);
    expect(a).toMatchObject({ completed: 1, cancelled: 1, deadlineReached: true });
    expect(pool.drain()).toBe(first);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('a later call past the deadline brings the abandonment forward (deadline + graceMs from then)', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    pool.registerHandler('hang', () => never);
    pool.start();
    const hung = watch(pool.submit('hang', null));
    await flush();
    const first = pool.drain(0, { graceMs: Infinity });
    await jest.advanceTimersByTimeAsync(10);
    expect(hung.settled).toBe(false);
    expect(pool.drain(50, { graceMs: 50 })).toBe(first);
    await jest.advanceTimersByTimeAsync(99);
    expect(hung.settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(hung.error).toMatchObject({ name: 'TaskAbandonedError' });
    await expect(first).resolves.toMatchObject({ abandonedTasks: [{ type: 'hang' }] });
  });

  it('rejects a bad deadline on the first call with InvalidOptionError and leaves the pool running', () => {
    const pool = new Dispatcher();
    for (const deadline of [-1, NaN, -Infinity, 'soon']) {
      expect(() => pool.drain(deadline as number)).toThrow(InvalidOptionError);
      expect(() => pool.drain(deadline as number)).toThrow(
        /^Invalid option "deadlineMs": got .*; expected a number of milliseconds from 0 to 2147483647 \(about 24\.8 days\), or Infinity\.$/,
      );
    }
    expect(pool.accepting).toBe(true);
  });
});

describe('a handler registered twice', () => {
  it('throws DuplicateHandlerError naming both origins and keeps the first handler', async () => {
    const pool = new Dispatcher();
    pool.registerHandler('t', () => 'first', 'First.run');
    pool.start();
    const error = await failure(() => pool.registerHandler('t', () => 'second', 'Second.run'));
    expect(error).toBeInstanceOf(DuplicateHandlerError);
    expect(error).toMatchObject({
      code: 'DUPLICATE_HANDLER',
      type: 't',
      existing: 'First.run',
      incoming: 'Second.run',
    });
    expect((error as Error).message).toBe(
      'Task type "t" has two handlers: First.run and Second.run. A type has exactly one handler per pool; rename one of the types or remove one handler.',
    );
    // The same function a second time is a duplicate too; without origins both are anonymous.
    const fn = () => 'x';
    pool.registerHandler('u', fn);
    expect(() => pool.registerHandler('u', fn)).toThrow(
      'Task type "u" has two handlers: anonymous handler and anonymous handler.',
    );
    await expect(pool.submit('t', null)).resolves.toBe('first');
    expect(pool.handlerTypes()).toEqual(['t', 'u']);
  });

  it('treats task types as exact map keys: case matters and prototype names are ordinary types', async () => {
    const pool = new Dispatcher();
    pool.registerHandler('Greet', () => 'upper');
    pool.registerHandler('greet', () => 'lower');
    pool.registerHandler('__proto__', () => 'proto');
    pool.start();
    await expect(pool.submit('Greet', null)).resolves.toBe('upper');
    await expect(pool.submit('greet', null)).resolves.toBe('lower');
    await expect(pool.submit('__proto__', null)).resolves.toBe('proto');
    for (const type of ['constructor', 'toString', 'hasOwnProperty'])
      await expect(pool.submit(type, null)).rejects.toThrow(UnknownTaskTypeError);
  });
});

describe('payloads', () => {
  it('passes a 50 MB string and an array of 1e6 items by reference, both ways', async () => {
    const pool = new Dispatcher();
    const big = 'x'.repeat(50 * 1024 * 1024);
    const many = Array.from({ length: 1_000_000 }, (_, i) => i);
    const received: unknown[] = [];
    pool.registerHandler('echo', (p: unknown) => {
      received.push(p);
      return p;
    });
    pool.start();
    const back = await Promise.all([
      pool.submit('echo', big, { sessionId: 's' }),
      pool.submit('echo', many, { sessionId: 's' }),
    ]);
    expect(received[0]).toBe(big);
    expect(received[1]).toBe(many);
    expect(back[0]).toBe(big);
    expect(back[1]).toBe(many);
    expect((back[0] as string).length).toBe(52_428_800);
  });

  it('passes cyclic payloads through untouched (nothing is cloned or serialized)', async () => {
    const pool = new Dispatcher();
    type Node = { name: string; self?: Node; peer?: Node; list: Node[] };
    const a: Node = { name: 'a', list: [] };
    const b: Node = { name: 'b', peer: a, list: [a] };
    a.self = a;
    a.peer = b;
    a.list.push(a, b);
    const map = new Map<string, unknown>();
    map.set('me', map);
    let seen: unknown;
    pool.registerHandler('walk', (p: { a: Node; map: Map<string, unknown> }) => {
      seen = p;
      return p.a.peer!.peer!.self!.list[1].name;
    });
    pool.start();
    const payload = { a, map };
    await expect(pool.submit('walk', payload, { sessionId: 'cycle' })).resolves.toBe('b');
    expect(seen).toBe(payload);
    expect((seen as typeof payload).map.get('me')).toBe(map);
  });

  it('hands the handler the live object: a change made after submit and before the start is seen', async () => {
    const pool = new Dispatcher();
    pool.registerHandler('read', (p: { n: number }) => p.n);
    pool.start();
    const payload = { n: 1 };
    const result = pool.submit('read', payload);
    payload.n = 2;
    await expect(result).resolves.toBe(2);
  });

  it('does not await a payload that is a promise (it is data); a returned promise is awaited', async () => {
    const pool = new Dispatcher();
    const gate = deferred<string>();
    let received: unknown;
    pool.registerHandler('peek', (p: Promise<string>) => {
      received = p;
      return 'ran before the promise settled';
    });
    pool.registerHandler('unwrap', (p: Promise<string>) => p);
    pool.start();
    await expect(pool.submit('peek', gate.promise)).resolves.toBe('ran before the promise settled');
    expect(received).toBe(gate.promise);
    const unwrapped = pool.submit('unwrap', gate.promise);
    gate.resolve('settled');
    await expect(unwrapped).resolves.toBe('settled');
  });
});

describe('a session id that is not a string', () => {
  it.each<[string, unknown, RegExp]>([
    ['a number', 42, /got 42;/],
    ['zero', 0, /got 0;/],
    ['NaN', NaN, /got NaN;/],
    ['null', null, /got null;/],
    ['an empty string', '', /got "";/],
    ['an object', { id: 'a' }, /got an object;/],
    ['a String object', new String('a'), /got an object;/],
    ['an array', ['a'], /got an array;/],
    ['a boolean', true, /got true;/],
    ['a symbol', Symbol('s'), /got an? symbol;/],
    ['a bigint', 10n, /got an? bigint;/],
  ])(
    '%s: submit and enqueue reject with InvalidOptionError naming sessionId',
    async (_, id, got) => {
      const pool = new Dispatcher();
      pool.registerHandler('t', () => undefined);
      pool.start();
      for (const call of [
        () => pool.submit('t', null, { sessionId: id as string }),
        () => pool.enqueue('t', null, { sessionId: id as string }),
      ]) {
        const error = await failure(call);
        expect(error).toBeInstanceOf(InvalidOptionError);
        expect(error).toMatchObject({ option: 'sessionId' });
        expect((error as Error).message).toMatch(
          /^Invalid option "sessionId": got .*; expected a non-empty string \(convert numeric ids with String\(id\)\), or undefined\.$/,
        );
        expect((error as Error).message).toMatch(got);
      }
      expect(pool.stats()).toMatchObject({ accepted: 0, activeSessions: 0 });
    },
  );

  it('accepts any non-empty string: whitespace, unicode, a 1 MB id', async () => {
    const pool = new Dispatcher();
    pool.registerHandler('t', (_: unknown, ctx) => ctx.sessionId);
    pool.start();
    for (const id of [' ', '🙂', 'x'.repeat(1_000_000)])
      await expect(pool.submit('t', null, { sessionId: id })).resolves.toBe(id);
    expect(pool.stats().activeSessions).toBe(0);
  });
});

describe('an unknown task type', () => {
  it('rejects submit and enqueue with UnknownTaskTypeError listing the known types; nothing is accepted', async () => {
    const pool = new Dispatcher();
    const empty = await failure(() => pool.submit('chat.message', null));
    expect(empty).toBeInstanceOf(UnknownTaskTypeError);
    expect((empty as Error).message).toBe(
      `No handler is registered for task type "chat.message", nor for any other yet. Decorate a provider method with @TaskHandler('chat.message') or register one with registerHandler(). ` +
        `With Nest, handlers are registered as the pool's module initializes: submit from onModuleInit or later, not from a constructor or a factory.`,
    );
    pool.registerHandler('chat.message', () => undefined);
    pool.registerHandler('chat.typing', () => undefined);
    for (const call of [
      () => pool.submit('chat.mesage', null, { sessionId: 's' }),
      () => pool.enqueue('chat.mesage', null),
    ]) {
      const error = await failure(call);
      expect(error).toBeInstanceOf(UnknownTaskTypeError);
      expect(error).toMatchObject({
        code: 'UNKNOWN_TASK_TYPE',
        type: 'chat.mesage',
        known: ['chat.message', 'chat.typing'],
      });
      expect((error as Error).message).toMatch(/Known types: "chat.message", "chat.typing"\./);
    }
    expect(pool.stats()).toMatchObject({ accepted: 0, activeSessions: 0 });
  });

  it('names a non-string type too (it cannot match any handler)', async () => {
    const pool = new Dispatcher();
    for (const type of [undefined, 7, Symbol('t')]) {
      const error = await failure(() => pool.submit(type as unknown as string, null));
      expect(error).toBeInstanceOf(UnknownTaskTypeError);
      expect((error as Error).message).toContain(`task type "${String(type)}"`);
    }
  });
});

describe('engine defects found by this suite (fixed; kept as regressions)', () => {
  // FIXED (found by this suite): drain(deadlineMs) armed setTimeout(deadlineMs) unchecked. Node (and the fake
  // clock) turn any delay above 2^31 - 1 ms (~24.8 days) into 1 ms, so a long deadline
  // cancelled every queued task at once. Fixed: drain() refuses such deadlines with
  // InvalidOptionError before it changes anything.
  it('a drain deadline above 2^31 - 1 ms is refused by name, and the refused drain cancels nothing', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    const gate = deferred();
    pool.registerHandler('hold', () => gate.promise);
    pool.start();
    const running = pool.submit('hold', null, { sessionId: 's' });
    const queued = watch(pool.submit('hold', null, { sessionId: 's' }));
    await flush();
    expect(() => pool.drain(2 ** 31)).toThrow(InvalidOptionError);
    expect(() => pool.drain(2 ** 31)).toThrow(/"deadlineMs"/);
    await jest.advanceTimersByTimeAsync(10);
    expect(queued.settled).toBe(false);
    expect(pool.stats().state).toBe('running');
    gate.resolve();
    await running;
    await flush();
    expect(queued.ok).toBe(true);
    await expect(pool.drain()).resolves.toMatchObject({ cancelled: 0 });
  });

  // FIXED (found by this suite): resolveTaskPolicy bounds timeoutMs below 2^31 but let delayMs / maxDelayMs be
  // any finite number; scheduler.postpone() passed the backoff to setTimeout, which fires
  // after 1 ms when the delay exceeds 2^31 - 1. Fixed: delayMs and maxDelayMs are refused
  // from 2^31 up (InvalidOptionError naming retry.delayMs / retry.maxDelayMs).
  it('a retry backoff above 2^31 - 1 ms is refused by name, for a handler and per submit, leaving nothing registered or queued', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher();
    const attempts: number[] = [];
    const long = { attempts: 2, delayMs: 2 ** 31, maxDelayMs: 2 ** 31, jitter: false };
    const fn = (_: unknown, ctx: { attempt: number }) => {
      attempts.push(ctx.attempt);
      throw new Error('fail');
    };
    expect(() => pool.registerHandler('t', fn, { retry: long })).toThrow(
      /retry.*\.(delayMs|maxDelayMs)/,
    );
    expect(pool.handlerTypes()).not.toContain('t');
    pool.registerHandler('t', fn);
    pool.start();
    const error = await failure(() => pool.submit('t', null, { sessionId: 's', retry: long }));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toMatch(/retry.*\.(delayMs|maxDelayMs)/);
    await flush();
    await jest.advanceTimersByTimeAsync(10);
    expect(attempts).toEqual([]);
    expect(pool.stats()).toMatchObject({ accepted: 0, retrying: 0, queued: 0 });
  });

  // FIXED (found by this suite): accept() only checks `signal?.aborted`; push() first creates the session state
  // (scheduler.session()) and then follow() calls signal.addEventListener, which throws a
  // TypeError for anything that is not an EventTarget. The caller gets an unnamed TypeError
  // and the session stays in `sessions` with nothing queued or running: activeSessions is
  // 1 forever (a leak per bad call). Fix: in accept(), reject a `signal` that is not an
  // AbortSignal (`!(signal instanceof AbortSignal)`, or duck-type aborted+addEventListener)
  // with InvalidOptionError('signal', ..., 'an AbortSignal'), before anything is created.
  it('a signal that is not an AbortSignal gets InvalidOptionError and leaks nothing', async () => {
    const pool = new Dispatcher();
    pool.registerHandler('t', () => undefined);
    pool.start();
    const error = await failure(() =>
      pool.submit('t', null, { sessionId: 's', signal: {} as AbortSignal }),
    );
    expect(pool.stats().activeSessions).toBe(0);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toMatch(/^Invalid option "signal"/);
  });

  // FIXED (found by this suite): submit options are not validated as an object, nor checked for unknown keys
  // (pool options are). `submit(type, payload, conversationId)` or a typo such as
  // `{ sessionID: id }` silently makes the task unkeyed, so it loses its per-session order
  // and exclusion with no error; `null` throws an unnamed TypeError. Fix: in accept(), when
  // options is not undefined, require a plain object and reject unknown keys with
  // InvalidOptionError listing sessionId, signal, retry, timeoutMs, overlapOnTimeout. To keep
  // the hot path cheap, the key check can run only when `options.sessionId === undefined`
  // (the case where a typo changes the meaning).
  it.each<[string, unknown]>([
    ['a string (the session id passed positionally)', 'conversation-1'],
    ['an object with a misspelled sessionId', { sessionID: 'conversation-1' }],
    ['null', null],
  ])('submit options that are %s get InvalidOptionError', async (_, options) => {
    const pool = new Dispatcher();
    pool.registerHandler('t', () => undefined);
    pool.start();
    const error = await failure(() => pool.submit('t', null, options as never));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toBeInstanceOf(WorkerPoolError);
  });
});

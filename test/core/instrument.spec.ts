import { AsyncLocalStorage } from 'node:async_hooks';
import { jest } from '@jest/globals';
import {
  type AttemptEnd,
  Dispatcher,
  InvalidOptionError,
  SelfWaitError,
  type TaskContext,
  type TaskInstrument,
} from '../../lib/core/index.js';
import { deferred, flush } from '../support/deferred.js';

// A recording instrument (no tracing library): the seam's contract as an OpenTelemetry
// instrument relies on it. `start` reads the caller's store (so it must run in the caller's
// context), and `run` sets a store of its own that the handler must see (so the handler must
// run inside `run`, not merely after it).
const caller = new AsyncLocalStorage<string>();
const inside = new AsyncLocalStorage<string>();

interface Attempt {
  taskId: number;
  attempt: number;
  laneId: number;
  caller: string | undefined;
  accepted: unknown;
  end?: AttemptEnd;
  ends: number;
}

function recorder() {
  const attempts: Attempt[] = [];
  const instrument: TaskInstrument<Attempt> = {
    accept: (task: TaskContext) => `accepted ${task.taskId}`,
    start(task, accepted) {
      const a: Attempt = {
        taskId: task.taskId,
        attempt: task.attempt,
        laneId: task.laneId,
        caller: caller.getStore(),
        accepted,
        ends: 0,
      };
      attempts.push(a);
      return a;
    },
    run: (a, call) => inside.run(`attempt ${a.taskId}.${a.attempt}`, call),
    end(a, end) {
      a.end = end;
      a.ends++;
    },
  };
  return { attempts, instrument };
}

afterEach(() => jest.useRealTimers());

describe('the instrument seam', () => {
  it('starts each attempt in its own caller context and runs the handler inside run, on lanes of concurrency 2', async () => {
    const { attempts, instrument } = recorder();
    const pool = new Dispatcher({ lanes: 2, laneConcurrency: 2, instrument });
    const seen: Array<[string, unknown, unknown]> = [];
    pool.registerHandler('read', async (expected: string, ctx) => {
      await new Promise((r) => setImmediate(r));
      seen.push([expected, inside.getStore(), `attempt ${ctx.taskId}.${ctx.attempt}`]);
      return expected;
    });
    pool.start();
    const done: Promise<unknown>[] = [];
    for (const u of ['alice', 'bob', 'carol']) {
      for (const sessionId of ['shared', `own-${u}`, undefined])
        done.push(caller.run(u, () => pool.submit('read', u, { sessionId })));
    }
    await Promise.all(done);
    expect(attempts).toHaveLength(9);
    for (const a of attempts) {
      expect(a.end).toEqual({ outcome: 'completed', error: undefined, retrying: false });
      expect(a.ends).toBe(1);
      expect(a.accepted).toBe(`accepted ${a.taskId}`);
      expect(a.laneId).toBeGreaterThanOrEqual(0);
    }
    // Each attempt saw its own submitter: task i was submitted by user floor((i-1)/3).
    expect(attempts.map((a) => [a.taskId, a.caller]).sort((x, y) => +x[0]! - +y[0]!)).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9].map((id) => [id, ['alice', 'bob', 'carol'][((id - 1) / 3) | 0]]),
    );
    for (const [, got, expected] of seen) expect(got).toBe(expected);
    await pool.drain();
  });

  it('a retry is a second attempt: failed with retrying, then completed', async () => {
    jest.useFakeTimers();
    const { attempts, instrument } = recorder();
    const pool = new Dispatcher({ lanes: 1, instrument });
    let calls = 0;
    pool.registerHandler(
      'flaky',
      () => {
        if (++calls === 1) throw new Error('first fails');
        return 'ok';
      },
      { retry: { attempts: 2, delayMs: 10, jitter: false } },
    );
    pool.start();
    const result = caller.run('req', () => pool.submit('flaky', null, { sessionId: 's' }));
    await flush();
    expect(attempts).toHaveLength(1);
    expect(attempts[0].end).toMatchObject({ outcome: 'failed', retrying: true });
    expect((attempts[0].end!.error as Error).message).toBe('first fails');
    await jest.advanceTimersByTimeAsync(10);
    expect(await result).toBe('ok');
    expect(attempts.map((a) => [a.attempt, a.caller, a.end?.outcome, a.end?.retrying])).toEqual([
      [1, 'req', 'failed', true],
      [2, 'req', 'completed', false],
    ]);
  });

  it('a timed-out attempt ends at its timeout, before its caller hears of it', async () => {
    jest.useFakeTimers();
    const { attempts, instrument } = recorder();
    const pool = new Dispatcher({ lanes: 1, instrument });
    pool.registerHandler('slow', () => new Promise(() => undefined), { timeoutMs: 50 });
    pool.start();
    let endedBeforeCaller: boolean | undefined;
    const result = pool
      .submit('slow', null)
      .catch((e: unknown) => ((endedBeforeCaller = attempts[0]?.ends === 1), e));
    await jest.advanceTimersByTimeAsync(50);
    expect(await result).toMatchObject({ name: 'TaskTimeoutError' });
    expect(endedBeforeCaller).toBe(true);
    expect(attempts[0].end).toMatchObject({ outcome: 'timed-out', retrying: false });
  });

  it('an attempt stopped at the drain deadline ends cancelled; one still running after the grace ends abandoned, once', async () => {
    jest.useFakeTimers();
    const { attempts, instrument } = recorder();
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 2, instrument });
    pool.registerHandler(
      'polite',
      (_: unknown, ctx) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
        ),
    );
    let finishLate!: () => void;
    pool.registerHandler('hung', () => new Promise<void>((r) => (finishLate = r)));
    pool.start();
    const polite = pool.submit('polite', null, { sessionId: 'a' }).catch((e: unknown) => e);
    const hung = pool.submit('hung', null, { sessionId: 'b' }).catch((e: unknown) => e);
    await flush();
    void pool.drain(100, { graceMs: 100 });
    await jest.advanceTimersByTimeAsync(200);
    expect(await polite).toMatchObject({ name: 'TaskCancelledError' });
    expect(await hung).toMatchObject({ name: 'TaskAbandonedError' });
    finishLate();
    await flush();
    expect(attempts.map((a) => [a.taskId, a.end?.outcome, a.ends])).toEqual([
      [1, 'cancelled', 1],
      [2, 'abandoned', 1],
    ]);
  });

  it('a batch opens one attempt per item, each in its caller context, and item.run enters it', async () => {
    const { attempts, instrument } = recorder();
    const pool = new Dispatcher({ lanes: 1, instrument });
    const gate = deferred();
    const inItem: unknown[] = [];
    pool.registerHandler(
      'batch',
      async (items) => {
        await gate.promise;
        for (const item of items)
          inItem.push(item.run(() => [caller.getStore(), inside.getStore()]));
        return items.map((i) => i.payload);
      },
      { batch: { maxSize: 3, maxWaitMs: 0 } },
    );
    pool.start();
    const results = ['a', 'b', 'c'].map((u) =>
      caller.run(u, () => pool.submit('batch', u, { sessionId: u })),
    );
    await flush();
    gate.resolve();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c']);
    expect(attempts.map((a) => [a.caller, a.end?.outcome])).toEqual([
      ['a', 'completed'],
      ['b', 'completed'],
      ['c', 'completed'],
    ]);
    expect(inItem).toEqual([
      ['a', `attempt ${attempts[0].taskId}.1`],
      ['b', `attempt ${attempts[1].taskId}.1`],
      ['c', `attempt ${attempts[2].taskId}.1`],
    ]);
  });

  it('an instrumented handler still has its self-wait check: a submit to its own session is refused', async () => {
    const { attempts, instrument } = recorder();
    const pool = new Dispatcher({ lanes: 2, laneConcurrency: 2, checkSelfWait: true, instrument });
    pool.registerHandler('inner', () => 'inner');
    pool.registerHandler('outer', async (_: null, ctx: TaskContext) => {
      await Promise.resolve();
      return pool.submit('inner', null, { sessionId: ctx.sessionId }).catch((e: unknown) => e);
    });
    pool.start();
    const seen = await Promise.all(
      ['a', 'b'].map((s) => pool.submit('outer', null, { sessionId: s })),
    );
    expect(seen.map((e) => e instanceof SelfWaitError)).toEqual([true, true]);
    expect(attempts.map((a) => a.end?.outcome)).toEqual(['completed', 'completed']);
    await pool.drain();
  });

  it('a thrown end does not stop the pool; a value without start, run and end is refused by name', async () => {
    const { instrument } = recorder();
    const pool = new Dispatcher({
      lanes: 1,
      instrument: {
        ...instrument,
        end: () => {
          throw new Error('broken instrument');
        },
      },
    });
    pool.registerHandler('ok', () => 'fine');
    pool.start();
    expect(await pool.submit('ok', null)).toBe('fine');
    expect(() => new Dispatcher({ instrument: { start() {} } as never })).toThrow(
      InvalidOptionError,
    );
    expect(() => new Dispatcher({ instrument: { start() {} } as never })).toThrow(/instrument/);
  });
});

import { jest } from '@jest/globals';
import {
  Dispatcher,
  DuplicateHandlerError,
  InvalidOptionError,
  PoolClosedError,
  type TaskContext,
  UnknownLaneError,
  UnknownTaskTypeError,
} from '../../lib/core/index.js';
import { IDLE_SESSIONS_KEPT, type Scheduler } from '../../lib/core/scheduler.js';
import { type Deferred, deferred, flush } from '../support/deferred.js';

describe('Dispatcher basics', () => {
  it('resolves submit with the handler result and passes a full context', async () => {
    const pool = new Dispatcher({ lanes: 2 });
    let seen: TaskContext | undefined;
    pool.registerHandler('double', (n: number, ctx) => {
      seen = ctx;
      return n * 2;
    });
    pool.start();
    await expect(pool.submit('double', 21, { sessionId: 'a' })).resolves.toBe(42);
    expect(seen).toMatchObject({ taskId: 1, type: 'double', sessionId: 'a', attempt: 1 });
    expect([0, 1]).toContain(seen!.laneId);
    expect(seen!.signal.aborted).toBe(false);
  });

  it('never runs a handler inside the submit call', async () => {
    const pool = new Dispatcher();
    const calls: string[] = [];
    pool.registerHandler('t', () => void calls.push('handler'));
    pool.start();
    const done = pool.submit('t', null);
    calls.push('after submit');
    await done;
    expect(calls).toEqual(['after submit', 'handler']);
  });

  it('queues before start and runs on start', async () => {
    const pool = new Dispatcher();
    const ran = jest.fn();
    pool.registerHandler('t', ran);
    const done = pool.submit('t', 1, { sessionId: 's' });
    await flush();
    expect(ran).not.toHaveBeenCalled();
    expect(pool.stats()).toMatchObject({ state: 'created', queued: 1 });
    pool.start();
    await done;
    expect(ran).toHaveBeenCalledTimes(1);
  });

  it('rejects submit with whatever the handler threw or rejected, Error or not', async () => {
    const pool = new Dispatcher();
    pool.registerHandler('sync', () => {
      throw new TypeError('bad');
    });
    pool.registerHandler('value', () => Promise.reject('plain string'));
    pool.start();
    await expect(pool.submit('sync', null)).rejects.toThrow(TypeError);
    await expect(pool.submit('value', null, { sessionId: 'x' })).rejects.toBe('plain string');
    expect(pool.stats()).toMatchObject({ failed: 2, completed: 0, accepted: 2 });
  });

  it('reports failures of enqueued tasks to onUnhandledFailure, and survives a throwing reporter', async () => {
    const reported: unknown[] = [];
    const pool = new Dispatcher({
      onUnhandledFailure: (error, task) => {
        reported.push([error, task.type, task.sessionId]);
        throw new Error('reporter broke');
      },
    });
    pool.registerHandler('boom', () => {
      throw new Error('boom');
    });
    pool.registerHandler('ok', () => 'fine');
    pool.start();
    await pool.enqueue('boom', null, { sessionId: 's' });
    await expect(pool.submit('ok', null, { sessionId: 's' })).resolves.toBe('fine');
    expect(reported).toEqual([[new Error('boom'), 'boom', 's']]);
  });

  it('names unknown types, listing the known ones, and duplicate handlers with both origins', async () => {
    const pool = new Dispatcher();
    pool.registerHandler('a', () => 1, 'A.run');
    expect(() => pool.registerHandler('a', () => 2, 'B.run')).toThrow(DuplicateHandlerError);
    expect(() => pool.registerHandler('a', () => 2, 'B.run')).toThrow(/A\.run and B\.run/);
    await expect(pool.submit('nope', null)).rejects.toThrow(UnknownTaskTypeError);
    await expect(pool.enqueue('nope', null)).rejects.toThrow(/Known types: "a"/);
  });

  it('rejects bad submit options and bad pool options with InvalidOptionError', async () => {
    const pool = new Dispatcher();
    pool.registerHandler('a', () => 1);
    await expect(pool.submit('a', null, { sessionId: 42 as unknown as string })).rejects.toThrow(
      /Invalid option "sessionId": got 42/,
    );
    await expect(pool.submit('a', null, { sessionId: '' })).rejects.toThrow(InvalidOptionError);
    expect(() => new Dispatcher({ lanes: 0 })).toThrow(/Invalid option "lanes": got 0/);
    expect(() => new Dispatcher({ lanes: 1.5 })).toThrow(InvalidOptionError);
    expect(() => new Dispatcher({ lanes: 10, maxLanes: 5 })).toThrow(/maxLanes \(5\)/);
    expect(() => new Dispatcher({ whenFull: 'drop' as 'wait' })).toThrow(/'reject' or 'wait'/);
    expect(() => new Dispatcher({ maxQueued: -1 })).toThrow(/or Infinity/);
    expect(() => new Dispatcher({ laneConcurrency: 0 })).toThrow(InvalidOptionError);
    expect(() => new Dispatcher(null as never)).toThrow(/"options"/);
    expect(() => new Dispatcher({ lane: 8 } as never)).toThrow(
      /Invalid option "lane": got 8; expected no such option; known options: lanes,/,
    );
  });

  // Values read from the environment (ConfigService.get, process.env) are strings: "8" for 8.
  it('says when a number or a boolean came as a string, and how to convert it', () => {
    expect(() => new Dispatcher({ lanes: '8' as never })).toThrow(
      'Invalid option "lanes": got the string "8"; expected an integer >= 1. ' +
        "Values read from the environment are strings: convert them first, e.g. Number(config.get('POOL_LANES')).",
    );
    expect(() => new Dispatcher({ maxQueued: ' 1e3 ' as never })).toThrow(
      /"maxQueued": got the string " 1e3 "; .*convert them first, e\.g\. Number\(config\.get\('POOL_MAX_QUEUED'\)\)\.$/,
    );
    expect(() => new Dispatcher({ stealUnkeyed: 'false' as never })).toThrow(
      /"stealUnkeyed": got the string "false"; expected true or false\. .*convert them first, e\.g\. config\.get\('POOL_STEAL_UNKEYED'\) === 'true'\.$/,
    );
    // A string that is no number, or where a string is expected, gets no conversion hint.
    expect(() => new Dispatcher({ lanes: 'eight' as never })).toThrow(
      /^Invalid option "lanes": got "eight"; expected an integer >= 1\.$/,
    );
    expect(() => new Dispatcher({ whenFull: '1' as never })).toThrow(
      /^Invalid option "whenFull": got "1"; expected 'reject' or 'wait'\.$/,
    );
  });
});

describe('Dispatcher ordering and fairness', () => {
  it('runs one task per session at a time, in order, even on a lane of concurrency 4', async () => {
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 4 });
    const gates = new Map<string, Deferred>();
    const started: string[] = [];
    pool.registerHandler('t', async (p: { s: string; i: number }) => {
      started.push(`${p.s}${p.i}`);
      const gate = deferred();
      gates.set(`${p.s}${p.i}`, gate);
      await gate.promise;
    });
    pool.start();
    const all = ['a', 'b'].flatMap((s) =>
      [1, 2, 3].map((i) => pool.submit('t', { s, i }, { sessionId: s })),
    );
    await flush();
    expect(started).toEqual(['a1', 'b1']);
    expect(pool.stats().running).toBe(2);
    gates.get('a1')!.resolve();
    await flush();
    expect(started).toEqual(['a1', 'b1', 'a2']);
    gates.get('b1')!.resolve();
    gates.get('a2')!.resolve();
    await flush();
    expect(started).toEqual(['a1', 'b1', 'a2', 'b2', 'a3']);
    gates.get('b2')!.resolve();
    gates.get('a3')!.resolve();
    await flush();
    gates.get('b3')!.resolve();
    await Promise.all(all);
  });

  it('shares a lane round robin, so a busy session does not starve another', async () => {
    const pool = new Dispatcher({ lanes: 1 });
    const order: string[] = [];
    pool.registerHandler('t', (p: string) => void order.push(p));
    const work = [
      ...Array.from({ length: 5 }, (_, i) => pool.submit('t', `busy${i}`, { sessionId: 'busy' })),
      pool.submit('t', 'quiet0', { sessionId: 'quiet' }),
      pool.submit('t', 'quiet1', { sessionId: 'quiet' }),
    ];
    pool.start();
    await Promise.all(work);
    expect(order).toEqual(['busy0', 'quiet0', 'busy1', 'quiet1', 'busy2', 'busy3', 'busy4']);
  });

  it('sends unkeyed tasks to the least-loaded lane', async () => {
    const pool = new Dispatcher({ lanes: 3 });
    const hold = deferred();
    const lanes: number[] = [];
    pool.registerHandler('hold', () => hold.promise);
    pool.registerHandler('free', (_: unknown, ctx) => void lanes.push(ctx.laneId));
    pool.start();
    const held = [pool.submit('hold', null), pool.submit('hold', null)];
    const free = pool.submit('free', null);
    await free;
    const busyLanes = pool
      .stats()
      .lanes.filter((l) => l.running > 0)
      .map((l) => l.id);
    expect(busyLanes).toHaveLength(2);
    expect(busyLanes).not.toContain(lanes[0]);
    hold.resolve();
    await Promise.all(held);
  });

  it('leaves no state behind for idle sessions', async () => {
    const pool = new Dispatcher({ lanes: 4, maxQueued: Infinity });
    // activeSessions leaves out the idle sessions kept for reuse: count every session held.
    const { sessions } = (pool as unknown as { scheduler: Scheduler }).scheduler;
    pool.registerHandler('t', () => undefined);
    pool.start();
    for (let batch = 0; batch < 20; batch++) {
      const work: Promise<void>[] = [];
      for (let i = 0; i < 5_000; i++)
        work.push(pool.enqueue('t', null, { sessionId: `s${batch}-${i}` }));
      await Promise.all(work);
      await flush(5);
    }
    while (pool.stats().queued + pool.stats().running > 0) await flush();
    expect(pool.stats()).toMatchObject({ activeSessions: 0, completed: 100_000, queued: 0 });
    // Of 100,000 sessions, only the bounded cache of idle ones is held, and none after a drain.
    expect(sessions.size).toBe(IDLE_SESSIONS_KEPT);
    await pool.drain();
    expect(sessions.size).toBe(0);
  });
});

describe('Dispatcher lanes', () => {
  it('validates resize, addLane and removeLane arguments', async () => {
    const pool = new Dispatcher({ lanes: 2, maxLanes: 3 });
    expect(() => pool.resize(0)).toThrow(/an integer from 1 to maxLanes \(3\)/);
    expect(() => pool.resize(-1)).toThrow(InvalidOptionError);
    expect(() => pool.resize(4)).toThrow(InvalidOptionError);
    expect(() => pool.resize(NaN)).toThrow(InvalidOptionError);
    expect(() => pool.removeLane(9)).toThrow(UnknownLaneError);
    expect(() => pool.removeLane(9)).toThrow(/Current lanes: 0, 1/);
    expect(pool.addLane()).toBe(2);
    expect(() => pool.addLane()).toThrow(/at most maxLanes \(3\)/);
    await pool.resize(1);
    expect(pool.stats().lanes.map((l) => l.id)).toEqual([0]);
    expect(() => pool.removeLane(0)).toThrow(/keeps at least one lane/);
  });

  it('reuses the lowest free lane id so a shrink and regrow restores the ring', async () => {
    const pool = new Dispatcher({ lanes: 4 });
    await pool.removeLane(1);
    expect(pool.addLane()).toBe(1);
    // A retiring lane keeps its id until it is gone; ids below a free one stay taken.
    const gate = deferred();
    pool.registerHandler('hold', () => gate.promise);
    pool.start();
    const held = pool.submit('hold', null);
    await flush();
    const busy = pool.stats().lanes.find((l) => l.running === 1)!.id;
    const gone = pool.removeLane(busy);
    await pool.removeLane(busy === 0 ? 2 : 0);
    expect(pool.addLane()).toBe(busy === 0 ? 2 : 0);
    expect(pool.addLane()).toBe(4);
    gate.resolve();
    await Promise.all([held, gone]);
    expect(pool.addLane()).toBe(busy);
    expect(
      pool
        .stats()
        .lanes.map((l) => l.id)
        .sort(),
    ).toEqual([0, 1, 2, 3, 4]);
  });

  it("moves a removed lane's sessions, starting their queued tasks only after the running one settles", async () => {
    const pool = new Dispatcher({ lanes: 2 });
    const gate = deferred();
    const events: string[] = [];
    pool.registerHandler('t', async (p: number, ctx) => {
      events.push(`start ${p} on ${ctx.laneId}`);
      if (p === 1) await gate.promise;
      events.push(`end ${p}`);
    });
    pool.start();
    const work = [1, 2, 3].map((p) => pool.submit('t', p, { sessionId: 'moving' }));
    await flush();
    const lane = pool.stats().lanes.find((l) => l.running === 1)!.id;
    const gone = pool.removeLane(lane);
    let isGone = false;
    void gone.then(() => (isGone = true));
    await flush();
    expect(events).toEqual([`start 1 on ${lane}`]);
    expect(isGone).toBe(false);
    expect(pool.stats().lanes.find((l) => l.id === lane)).toMatchObject({
      retiring: true,
      running: 1,
    });
    gate.resolve();
    await Promise.all(work);
    await gone;
    const other = 1 - lane;
    expect(events).toEqual([
      `start 1 on ${lane}`,
      'end 1',
      `start 2 on ${other}`,
      'end 2',
      `start 3 on ${other}`,
      'end 3',
    ]);
    expect(pool.stats().lanes.map((l) => l.id)).toEqual([other]);
  });

  it('moves waiting sessions and unkeyed tasks off a removed lane at once', async () => {
    const pool = new Dispatcher({ lanes: 2 });
    const ran: Array<[string, number]> = [];
    pool.registerHandler('t', (p: string, ctx) => void ran.push([p, ctx.laneId]));
    // Not started yet: everything waits in ready queues.
    const work = [
      ...Array.from({ length: 20 }, (_, i) => pool.submit('t', `k${i}`, { sessionId: `s${i}` })),
      ...Array.from({ length: 6 }, (_, i) => pool.submit('t', `u${i}`)),
    ];
    await pool.removeLane(0);
    expect(pool.stats().lanes).toMatchObject([
      { id: 1, queued: 26, running: 0, concurrency: 1, retiring: false },
    ]);
    pool.start();
    await Promise.all(work);
    expect(ran).toHaveLength(26);
    expect(ran.every(([, lane]) => lane === 1)).toBe(true);
  });

  it.each([
    ["'when-idle' keeps it on its lane", { rebalance: 'when-idle' }],
    ["'between-tasks' (the default) moves it once, between two of its tasks", {}],
  ] as const)('an active session when a lane is added: rebalance %s', async (_, options) => {
    const pool = new Dispatcher({ lanes: 1, ...options });
    const lanes: number[] = [];
    const gate = deferred();
    pool.registerHandler('t', async (p: number, ctx) => {
      lanes.push(ctx.laneId);
      if (p === 0) await gate.promise;
    });
    pool.start();
    const work = [0, 1, 2].map((p) => pool.submit('t', p, { sessionId: 'sticky' }));
    await flush();
    await pool.resize(16);
    gate.resolve();
    await Promise.all(work);
    if (pool.options.rebalance === 'when-idle') expect(lanes).toEqual([0, 0, 0]);
    else {
      // Once, between its first and second task, to a new lane; then it stays there.
      expect(lanes[1]).not.toBe(0);
      expect(lanes[2]).toBe(lanes[1]);
    }
  });
});

describe('Dispatcher capacity', () => {
  it("rejects with QueueFullError at the pool's and at a session's limit", async () => {
    const pool = new Dispatcher({ lanes: 1, maxQueued: 3, maxQueuedPerSession: 2 });
    pool.registerHandler('t', () => undefined);
    void pool.submit('t', 1, { sessionId: 'a' });
    void pool.submit('t', 2, { sessionId: 'a' });
    await expect(pool.submit('t', 3, { sessionId: 'a' })).rejects.toThrow(
      /queue of session "a" is full \(2/,
    );
    void pool.submit('t', 4, { sessionId: 'b' });
    await expect(pool.enqueue('t', 5)).rejects.toMatchObject({
      name: 'QueueFullError',
      scope: 'pool',
      limit: 3,
    });
    expect(pool.stats()).toMatchObject({ queued: 3, rejected: 2 });
  });

  it("with whenFull 'wait', admits waiting callers in order as room frees up", async () => {
    const pool = new Dispatcher({ lanes: 1, maxQueued: 1, whenFull: 'wait' });
    const order: number[] = [];
    pool.registerHandler('t', (n: number) => void order.push(n));
    const work = [1, 2, 3, 4].map((n) => pool.submit('t', n, { sessionId: `s${n}` }));
    await flush();
    expect(pool.stats()).toMatchObject({ queued: 1, waiting: 3 });
    pool.start();
    await Promise.all(work);
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it("with whenFull 'wait', a full session does not hold up other sessions", async () => {
    const pool = new Dispatcher({ lanes: 1, maxQueuedPerSession: 1, whenFull: 'wait' });
    const order: string[] = [];
    pool.registerHandler('t', (n: string) => void order.push(n));
    const work = [
      pool.submit('t', 'a1', { sessionId: 'a' }),
      pool.submit('t', 'a2', { sessionId: 'a' }),
      pool.submit('t', 'a3', { sessionId: 'a' }),
      pool.submit('t', 'b1', { sessionId: 'b' }),
    ];
    await flush();
    expect(pool.stats()).toMatchObject({ queued: 2, waiting: 2 });
    pool.start();
    await Promise.all(work);
    expect(order.filter((x) => x.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(order.indexOf('b1')).toBeLessThan(order.indexOf('a3'));
  });

  it('stops waiting when the AbortSignal fires, and refuses waiters when draining', async () => {
    const pool = new Dispatcher({ lanes: 1, maxQueued: 1, whenFull: 'wait' });
    pool.registerHandler('t', () => undefined);
    const first = pool.submit('t', 1);
    const controller = new AbortController();
    const aborted = pool.submit('t', 2, { signal: controller.signal });
    const refused = pool.enqueue('t', 3);
    await flush();
    controller.abort(new Error('user gave up'));
    await expect(aborted).rejects.toMatchObject({ name: 'TaskCancelledError', reason: 'aborted' });
    expect(pool.stats().waiting).toBe(1);
    const report = pool.drain(1000);
    await expect(refused).rejects.toThrow(PoolClosedError);
    await first;
    await expect(report).resolves.toMatchObject({ completed: 1, cancelled: 0 });
    await expect(pool.submit('t', 4, { signal: AbortSignal.abort() })).rejects.toThrow(
      PoolClosedError,
    );
  });

  it('refuses a submit whose signal is already aborted', async () => {
    const pool = new Dispatcher();
    pool.registerHandler('t', () => undefined);
    await expect(pool.submit('t', 1, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'TaskCancelledError',
    });
    expect(pool.stats().accepted).toBe(0);
  });
});

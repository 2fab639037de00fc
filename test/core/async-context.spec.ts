import { AsyncLocalStorage } from 'node:async_hooks';
import { jest } from '@jest/globals';
import {
  type BatchItem,
  Dispatcher,
  InvalidOptionError,
  type PoolEvent,
  type TaskContext,
} from '../../lib/core/index.js';
import { type Deferred, deferred, flush } from '../support/deferred.js';

// Each test submits from several callers, each inside its own `als.run`, onto lanes that run
// more than one task at once, and has handlers read the store after an await: the run loops
// are started from inside some caller's call, so a pool that let handlers inherit the loop's
// context would show that caller's store to everybody.
const als = new AsyncLocalStorage<{ user: string }>();
const user = (): string | undefined => als.getStore()?.user;
const as = <T>(name: string, fn: () => T): T => als.run({ user: name }, fn);

afterEach(() => jest.useRealTimers());

describe('a handler runs in its caller async context', () => {
  it('four callers on two lanes of concurrency 2: every handler sees its own caller, after awaits too', async () => {
    const pool = new Dispatcher({ lanes: 2, laneConcurrency: 2 });
    const seen: Array<[expected: string, before: unknown, after: unknown]> = [];
    pool.registerHandler('read', async (expected: string) => {
      const before = user();
      await new Promise((r) => setImmediate(r));
      seen.push([expected, before, user()]);
    });
    pool.start();
    const users = ['alice', 'bob', 'carol', 'dave'];
    const done: Promise<unknown>[] = [];
    for (let round = 0; round < 3; round++) {
      for (const u of users) {
        // Shared sessions (tasks queue behind another user's), own sessions and unkeyed ones.
        const sessionId = round === 0 ? 'shared' : round === 1 ? `own-${u}` : undefined;
        done.push(as(u, () => pool.submit('read', u, { sessionId })));
      }
    }
    await Promise.all(done);
    expect(seen).toHaveLength(12);
    for (const [expected, before, after] of seen) {
      expect(before).toBe(expected);
      expect(after).toBe(expected);
    }
    await pool.drain();
  });

  it('enqueue, submitMany and group().submit capture their callers too', async () => {
    const pool = new Dispatcher({ lanes: 2, laneConcurrency: 2 });
    const seen: Array<[string, unknown]> = [];
    pool.registerHandler('read', async (expected: string) => {
      await Promise.resolve();
      seen.push([expected, user()]);
    });
    pool.start();
    await as('enqueuer', () => pool.enqueue('read', 'enqueuer', { sessionId: 's' }));
    await as('many', () =>
      pool.submitMany([
        { type: 'read', payload: 'many', options: { sessionId: 's' } },
        { type: 'read', payload: 'many' },
      ]),
    );
    await as('grouped', () => {
      const g = pool.group();
      g.submit('read', 'grouped', { sessionId: 's' });
      g.submit('read', 'grouped');
      return g.wait();
    });
    await pool.drain();
    expect(seen).toHaveLength(5);
    for (const [expected, got] of seen) expect(got).toBe(expected);
  });

  it('two independent AsyncLocalStorage instances are both carried', async () => {
    const tenant = new AsyncLocalStorage<string>();
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 2 });
    const seen: string[] = [];
    pool.registerHandler('read', async () => {
      await Promise.resolve();
      seen.push(`${user()}/${tenant.getStore()}`);
    });
    pool.start();
    await Promise.all([
      as('alice', () => tenant.run('acme', () => pool.submit('read', null, { sessionId: 'x' }))),
      as('bob', () => tenant.run('globex', () => pool.submit('read', null, { sessionId: 'x' }))),
      tenant.run('initech', () => pool.submit('read', null, { sessionId: 'y' })),
    ]);
    expect(seen.sort()).toEqual(['alice/acme', 'bob/globex', 'undefined/initech']);
  });

  it('every attempt of a retried task, and its retryIf, run in its caller context', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 2 });
    const attempts: Array<[string, number, unknown]> = [];
    const predicate: unknown[] = [];
    pool.registerHandler('flaky', async (expected: string, ctx: TaskContext) => {
      await Promise.resolve();
      attempts.push([expected, ctx.attempt, user()]);
      if (ctx.attempt < 3) throw new Error('again');
      return ctx.attempt;
    });
    pool.start();
    const retry = {
      attempts: 3,
      delayMs: 10,
      retryIf: () => (predicate.push(user()), true),
    };
    const a = as('alice', () => pool.submit('flaky', 'alice', { sessionId: 's', retry }));
    const b = as('bob', () => pool.submit('flaky', 'bob', { sessionId: 't', retry }));
    await jest.advanceTimersByTimeAsync(1_000);
    await expect(a).resolves.toBe(3);
    await expect(b).resolves.toBe(3);
    expect(attempts).toHaveLength(6);
    for (const [expected, , got] of attempts) expect(got).toBe(expected);
    expect(predicate.sort()).toEqual(['alice', 'alice', 'bob', 'bob']);
  });

  it('a timed-out handler and the task queued behind it each keep their own caller', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 2 });
    const seen: Array<[string, unknown]> = [];
    const hang = deferred();
    pool.registerHandler('slow', async (expected: string, ctx: TaskContext) => {
      seen.push([expected, user()]);
      if (expected === 'alice') {
        ctx.signal.addEventListener('abort', () => seen.push(['alice:abort', user()]));
        await hang.promise;
        seen.push(['alice:late', user()]);
      }
    });
    pool.start();
    const a = as('alice', () =>
      pool.submit('slow', 'alice', { sessionId: 's', timeoutMs: 50 }).catch((e) => e.name),
    );
    const b = as('bob', () => pool.submit('slow', 'bob', { sessionId: 's' }));
    await jest.advanceTimersByTimeAsync(60);
    await expect(a).resolves.toBe('TaskTimeoutError');
    hang.resolve();
    await b;
    expect(seen).toEqual([
      ['alice', 'alice'],
      ['alice:abort', 'alice'],
      ['alice:late', 'alice'],
      ['bob', 'bob'],
    ]);
  });

  it("ctx.signal listeners and onSettled hear another caller's abort in their own caller context", async () => {
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 2 });
    const seen: Array<[string, unknown]> = [];
    const started = deferred();
    pool.registerHandler('wait', async (_: null, ctx: TaskContext) => {
      ctx.signal.addEventListener('abort', () => seen.push(['listener', user()]));
      started.resolve();
      await new Promise((r) => ctx.signal.addEventListener('abort', r));
    });
    pool.start();
    const controller = new AbortController();
    const onSettled = (outcome: string) => seen.push([`settled:${outcome}`, user()]);
    const running = as('alice', () =>
      pool.submit('wait', null, { sessionId: 's', signal: controller.signal, onSettled }),
    );
    // Queued behind alice's: withdrawn by the same abort before it starts.
    const queued = as('bob', () =>
      pool
        .submit('wait', null, { sessionId: 's', signal: controller.signal, onSettled })
        .catch((e) => e.name),
    );
    await started.promise;
    as('mallory', () => controller.abort(new Error('stop')));
    await running;
    await expect(queued).resolves.toBe('TaskCancelledError');
    expect(seen).toContainEqual(['listener', 'alice']);
    expect(seen).toContainEqual(['settled:cancelled', 'bob']);
    expect(seen).toContainEqual(['settled:completed', 'alice']);
    expect(seen.filter(([, u]) => u === 'mallory')).toEqual([]);
  });

  it('onUnhandledFailure and onDeadLetter report an enqueued failure in its caller context', async () => {
    const seen: Array<[string, unknown]> = [];
    const pool = new Dispatcher({
      lanes: 1,
      laneConcurrency: 2,
      onUnhandledFailure: () => seen.push(['unhandled', user()]),
      onDeadLetter: () => seen.push(['dead', user()]),
    });
    pool.registerHandler('fail', () => {
      throw new Error('no');
    });
    pool.start();
    as('alice', () =>
      pool.enqueue('fail', null, { sessionId: 's', retry: { attempts: 2, delayMs: 0 } }),
    );
    as('bob', () => pool.enqueue('fail', null, { sessionId: 't' }));
    await pool.drain();
    expect(seen.sort()).toEqual([
      ['dead', 'alice'],
      ['unhandled', 'alice'],
      ['unhandled', 'bob'],
    ]);
  });

  it('a caller admitted after waiting for queue room runs in its own context, not the one that made room', async () => {
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 2, maxQueued: 1, whenFull: 'wait' });
    const seen: Array<[string, unknown]> = [];
    const gate = deferred();
    pool.registerHandler('read', async (expected: string) => {
      await gate.promise;
      seen.push([expected, user()]);
    });
    pool.start();
    const done = [
      as('alice', () => pool.submit('read', 'alice', { sessionId: 'a' })),
      as('bob', () => pool.submit('read', 'bob', { sessionId: 'a' })),
    ];
    await flush();
    // alice runs, bob fills the queue: carol waits for room.
    done.push(as('carol', () => pool.submit('read', 'carol', { sessionId: 'c' })));
    await flush();
    expect(pool.stats().queued).toBe(1);
    gate.resolve();
    await Promise.all(done);
    expect(seen.sort()).toEqual([
      ['alice', 'alice'],
      ['bob', 'bob'],
      ['carol', 'carol'],
    ]);
  });

  it('tasks moved by a lane removal keep their callers', async () => {
    const pool = new Dispatcher({ lanes: 4, laneConcurrency: 2 });
    const seen: Array<[string, unknown]> = [];
    const gate = deferred();
    pool.registerHandler('read', async (expected: string) => {
      await gate.promise;
      seen.push([expected, user()]);
    });
    pool.start();
    const done: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      const u = `user-${i % 8}`;
      done.push(as(u, () => pool.submit('read', u, { sessionId: `s-${i % 16}` })));
    }
    await flush();
    const removal = Promise.all([pool.removeLane(3), pool.removeLane(2)]);
    gate.resolve();
    await Promise.all([...done, removal]);
    expect(seen).toHaveLength(40);
    for (const [expected, got] of seen) expect(got).toBe(expected);
  });
});

describe("the pool's own work runs in no caller's context", () => {
  it('events$ subscribers see no caller store, whoever triggered the event', async () => {
    const pool = new Dispatcher({ lanes: 2, laneConcurrency: 2 });
    const seen: Array<[PoolEvent['type'], unknown]> = [];
    pool.events$.subscribe((e) => seen.push([e.type, user()]));
    pool.registerHandler('noop', () => undefined);
    pool.start();
    await as('alice', () => pool.submit('noop', null, { sessionId: 'a' }));
    await as('bob', () => pool.submit('noop', null));
    await pool.drain();
    expect(seen.length).toBeGreaterThan(4);
    expect(seen.filter(([, u]) => u !== undefined)).toEqual([]);
  });

  it("with context: 'none' a handler sees no store, never another caller's", async () => {
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 2, context: 'none' });
    const seen: unknown[] = [];
    pool.registerHandler('read', async () => {
      await Promise.resolve();
      seen.push(user());
    });
    pool.start();
    await Promise.all([
      as('alice', () => pool.submit('read', null, { sessionId: 'a' })),
      as('bob', () => pool.submit('read', null, { sessionId: 'b' })),
    ]);
    expect(seen).toEqual([undefined, undefined]);
  });

  it("a handler's own context option overrides the pool's", async () => {
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 2, context: 'none' });
    const seen: Array<[string, unknown]> = [];
    pool.registerHandler('caller', async () => seen.push(['caller', user()]), {
      context: 'caller',
    });
    pool.registerHandler('none', async () => seen.push(['none', user()]));
    pool.start();
    await as('alice', () => Promise.all([pool.submit('caller', null), pool.submit('none', null)]));
    expect(seen.sort()).toEqual([
      ['caller', 'alice'],
      ['none', undefined],
    ]);
  });

  it('refuses an unknown context mode by name', () => {
    expect(() => new Dispatcher({ context: 'request' as never })).toThrow(InvalidOptionError);
    expect(() => new Dispatcher({ context: 'request' as never })).toThrow(
      /context.*'caller' or 'none'/,
    );
    const pool = new Dispatcher();
    expect(() => pool.registerHandler('t', () => 1, { context: 'all' as never })).toThrow(
      /context of "t"/,
    );
  });
});

describe('a batch handler', () => {
  it("runs in no caller's context; item.run enters each item's caller", async () => {
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 2 });
    const seen: Array<[string, unknown]> = [];
    const gate: Deferred = deferred();
    pool.registerHandler(
      'audit',
      async (items: BatchItem<string>[]) => {
        seen.push(['batch', user()]);
        await gate.promise;
        for (const item of items) {
          seen.push([item.payload, item.run(user)]);
          await item.run(async () => {
            await Promise.resolve();
            seen.push([`${item.payload}:async`, user()]);
          });
        }
      },
      { batch: { maxSize: 3, maxWaitMs: 0 } },
    );
    pool.start();
    const done = ['alice', 'bob', 'carol'].map((u) =>
      as(u, () => pool.submit('audit', u, { sessionId: u })),
    );
    await flush();
    gate.resolve();
    await Promise.all(done);
    expect(seen[0]).toEqual(['batch', undefined]);
    for (const [payload, got] of seen.slice(1)) expect(got).toBe(payload.split(':')[0]);
    expect(seen).toHaveLength(7);
  });

  it("with context 'none', item.run enters the pool's context, not the one it is called from", async () => {
    const pool = new Dispatcher({ lanes: 1, context: 'none' });
    let inItem: unknown = 'not run';
    pool.registerHandler(
      'audit',
      (items: BatchItem<string>[]) => {
        // The handler's own store (a request it opened, say) is not the item's caller's.
        as('handler', () => {
          inItem = items[0].run(user);
        });
      },
      { batch: { maxSize: 1, maxWaitMs: 0 } },
    );
    pool.start();
    await as('alice', () => pool.submit('audit', 'alice', { sessionId: 'a' }));
    expect(inItem).toBeUndefined();
  });
});

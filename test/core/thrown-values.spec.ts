import { BatchResultError, Dispatcher, type PoolEvent } from '../../lib/core/index.js';

/**
 * Values a handler may throw (or a batch handler return) that break whoever inspects them:
 * a revoked Proxy (`instanceof`, `Array.isArray` and every property read throw), a Proxy whose
 * every trap throws, an object whose getters throw. The settle path (finish, retry, settle,
 * batch outcome, events$, onDeadLetter, onUnhandledFailure) must survive each: the caller
 * settles with the very value, and the lane's run loop goes on to the next task.
 */

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

function trapsThrow(target: object): object {
  const boom = () => {
    throw new Error('trap');
  };
  return new Proxy(target, {
    get: boom,
    has: boom,
    getPrototypeOf: boom,
    ownKeys: boom,
    getOwnPropertyDescriptor: boom,
    apply: boom,
  });
}

function gettersThrow(): object {
  const value = {};
  for (const key of [
    'name',
    'message',
    'stack',
    'code',
    'cause',
    'constructor',
    'then',
    'retryable',
  ])
    Object.defineProperty(value, key, {
      enumerable: true,
      get() {
        throw new Error(`getter ${key}`);
      },
    });
  return value;
}

const HOSTILE: Array<[string, () => object]> = [
  ['a revoked Proxy', revoked],
  ['a Proxy whose every trap throws', () => trapsThrow({})],
  ['an object whose getters throw', gettersThrow],
];

/** The rejection, boxed: a hostile value must not become a promise's fulfilment (its `then` is read). */
function outcome(promise: Promise<unknown>): Promise<{ error: unknown }> {
  return promise.then(
    () => ({ error: 'not rejected' }),
    (error: unknown) => ({ error }),
  );
}

describe('a handler that throws a value that cannot be inspected', () => {
  it.each(HOSTILE)(
    '%s: each path settles its caller with that very value and the lane runs its next task',
    async (_, make) => {
      const value = make();
      const unhandled: unknown[] = [];
      const deadLetters: unknown[] = [];
      const settled: unknown[] = [];
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
      const events: PoolEvent[] = [];
      pool.events$.subscribe((e) => events.push(e));
      pool.start();

      for (const type of ['reject', 'throw', 'timed', 'retried']) {
        for (const sessionId of ['s', undefined]) {
          const got = await outcome(
            pool.submit(type, null, { sessionId, onSettled: (_, v) => settled.push(v) }),
          );
          expect(got.error === value).toBe(true);
        }
      }
      await pool.enqueue('throw', null, { sessionId: 's' });
      // The lane's run loop lives on: the session's and the lane's next tasks run.
      await expect(pool.submit('ok', null, { sessionId: 's' })).resolves.toBe('ok');
      await expect(pool.submit('ok', null)).resolves.toBe('ok');

      expect(unhandled).toHaveLength(1);
      expect(unhandled[0] === value).toBe(true);
      expect(deadLetters).toHaveLength(2);
      expect(deadLetters.every((e) => e === value)).toBe(true);
      expect(settled).toHaveLength(8);
      expect(settled.every((e) => e === value)).toBe(true);
      const failed = events.filter((e) => e.type === 'failed');
      expect(failed).toHaveLength(9);
      expect(failed.every((e) => 'error' in e && e.error === value)).toBe(true);
      expect(pool.stats()).toMatchObject({ failed: 9, completed: 2, retried: 2, deadLettered: 2 });
      await expect(pool.drain()).resolves.toMatchObject({ cancelledTasks: [] });
    },
  );

  it.each(HOSTILE)(
    '%s thrown by a batch handler fails each of its tasks with that value; the lane goes on',
    async (_, make) => {
      const value = make();
      const pool = new Dispatcher({ lanes: 1 });
      let calls = 0;
      pool.registerHandler(
        'b',
        () => {
          if (++calls === 1) throw value;
          return [];
        },
        { batch: { maxSize: 2, maxWaitMs: 0 } },
      );
      pool.registerHandler('ok', () => 'ok');
      const work = ['a', 'b'].map((s) => pool.submit('b', null, { sessionId: s }));
      pool.start();
      const got = await Promise.all(work.map(outcome));
      expect(got.every((e) => e.error === value)).toBe(true);
      await expect(pool.submit('ok', null)).resolves.toBe('ok');
    },
  );

  it('a batch handler that returns a revoked Proxy fails each task with the TypeError awaiting it threw; the lane goes on', async () => {
    const pool = new Dispatcher({ lanes: 1 });
    pool.registerHandler('b', () => revoked(), { batch: { maxSize: 2, maxWaitMs: 0 } });
    pool.registerHandler('ok', () => 'ok');
    const work = ['a', 'b'].map((s) => pool.submit('b', null, { sessionId: s }));
    pool.start();
    const [a, b] = await Promise.all(work.map(outcome));
    expect(a.error).toBeInstanceOf(TypeError);
    expect(b.error === a.error).toBe(true);
    await expect(pool.submit('ok', null)).resolves.toBe('ok');
  });

  it('a batch handler that returns an array whose reads throw (not its then) fails each task with BatchResultError; the lane goes on', async () => {
    const pool = new Dispatcher({ lanes: 1 });
    const result = new Proxy([1, 2], {
      get(target, key) {
        if (key === 'then') return undefined;
        throw new Error(`read ${String(key)}`);
      },
    });
    pool.registerHandler('b', () => result, { batch: { maxSize: 2, maxWaitMs: 0 } });
    pool.registerHandler('ok', () => 'ok');
    const work = ['a', 'b'].map((s) => pool.submit('b', null, { sessionId: s }));
    pool.start();
    const got = await Promise.all(work.map(outcome));
    for (const { error } of got) {
      expect(error).toBeInstanceOf(BatchResultError);
      expect((error as Error).message).toMatch(
        /returned an object that cannot be read for 2 items/,
      );
    }
    await expect(pool.submit('ok', null)).resolves.toBe('ok');
  });

  it('a retryIf given such a value is asked, and the task retries or fails by its answer', async () => {
    const value = revoked();
    const pool = new Dispatcher({ lanes: 1 });
    let runs = 0;
    pool.registerHandler('t', () => {
      runs++;
      throw value;
    });
    pool.start();
    const retryIf = (e: unknown) => e === value;
    const got = await outcome(
      pool.submit('t', null, { retry: { attempts: 3, delayMs: 0, jitter: false, retryIf } }),
    );
    expect(got.error === value).toBe(true);
    expect(runs).toBe(3);
  });
});

import {
  Dispatcher,
  InvalidOptionError,
  QueueFullError,
  TaskCancelledError,
  UnknownTaskTypeError,
} from '../../lib/core/index.js';
import { deferred, flush } from '../support/deferred.js';

describe('submitMany', () => {
  it('accepts a batch in one call and settles each task on its own, in order', async () => {
    const pool = new Dispatcher({ lanes: 2 });
    const order: string[] = [];
    pool.registerHandler('t', (p: string) => {
      order.push(p);
      if (p === 'bad') throw new Error('no');
      return p.toUpperCase();
    });
    pool.start();
    const results = await pool.submitMany([
      { type: 't', payload: 'a1', options: { sessionId: 'a' } },
      { type: 't', payload: 'bad', options: { sessionId: 'a' } },
      { type: 't', payload: 'a3', options: { sessionId: 'a' } },
      { type: 't', payload: 'u' },
    ]);
    expect(results).toEqual([
      { status: 'fulfilled', value: 'A1' },
      { status: 'rejected', reason: new Error('no') },
      { status: 'fulfilled', value: 'A3' },
      { status: 'fulfilled', value: 'U' },
    ]);
    expect(order.filter((p) => p !== 'u')).toEqual(['a1', 'bad', 'a3']);
  });

  it('accepts all or nothing: a batch that does not fit, or has one bad task, is refused whole', async () => {
    const pool = new Dispatcher({ lanes: 1, maxQueued: 3, maxQueuedPerSession: 2 });
    pool.registerHandler('t', () => 1);
    const three = (sessionId?: string) =>
      [1, 2, 3].map((n) => ({ type: 't', payload: n, options: { sessionId } }));
    await expect(pool.submitMany(three('s'))).rejects.toThrow(QueueFullError);
    await expect(pool.submitMany([...three(), { type: 't', payload: 4 }])).rejects.toMatchObject({
      scope: 'pool',
    });
    await expect(
      pool.submitMany([
        { type: 't', payload: 1 },
        { type: 'nope', payload: 2 },
      ]),
    ).rejects.toThrow(UnknownTaskTypeError);
    await expect(
      pool.submitMany([{ type: 't', payload: 1, options: { sessionId: 5 as never } }]),
    ).rejects.toThrow(InvalidOptionError);
    await expect(pool.submitMany('x' as never)).rejects.toThrow(/"tasks"/);
    expect(pool.stats()).toMatchObject({ accepted: 0, queued: 0 });
    pool.start();
    await expect(pool.submitMany(three())).resolves.toHaveLength(3);
  });
});

describe('TaskGroup', () => {
  it('resolves with every result in order when all succeed', async () => {
    const pool = new Dispatcher({ lanes: 2 });
    pool.registerHandler('t', (n: number) => n * 10);
    pool.start();
    const group = pool.group();
    [1, 2, 3].forEach((n) => group.submit('t', n, { sessionId: `s${n}` }));
    await expect(group.wait()).resolves.toEqual([10, 20, 30]);
  });

  it('rejects with the first failure and cancels the rest', async () => {
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 2 });
    const gate = deferred();
    let runningSignal: AbortSignal | undefined;
    pool.registerHandler('fail', async () => {
      await gate.promise;
      throw new Error('first failure');
    });
    pool.registerHandler('long', (_: unknown, ctx) => {
      runningSignal = ctx.signal;
      return new Promise((_r, reject) =>
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
      );
    });
    pool.registerHandler('queued', () => 'ran');
    pool.start();
    const group = pool.group();
    group.submit('fail', null, { sessionId: 'a' });
    group.submit('long', null, { sessionId: 'b' });
    const queued = group.submit('queued', null, { sessionId: 'a' }).catch((e: unknown) => e);
    const waited = group.wait();
    await flush();
    gate.resolve();
    await expect(waited).rejects.toThrow('first failure');
    expect(await queued).toBeInstanceOf(TaskCancelledError);
    expect(runningSignal?.aborted).toBe(true);
    expect(group.signal.aborted).toBe(true);
    await expect(group.submit('queued', null)).rejects.toBeInstanceOf(TaskCancelledError);
    await flush();
    expect(pool.stats()).toMatchObject({ queued: 0, running: 0, completed: 0 });
  });
});

describe('onSettled', () => {
  it('is called once, synchronously, with the outcome, before the session goes on', async () => {
    const pool = new Dispatcher({ lanes: 1 });
    const log: string[] = [];
    pool.registerHandler('t', (p: string) => {
      log.push(`run ${p}`);
      if (p === 'b') throw new Error('b failed');
      return p;
    });
    pool.start();
    const cb = (name: string) => (outcome: string, value: unknown) =>
      log.push(`${name} ${outcome} ${String(value)}`);
    const c = new AbortController();
    const work = [
      pool.submit('t', 'a', { sessionId: 's', onSettled: cb('a') }),
      pool.submit('t', 'b', { sessionId: 's', onSettled: cb('b') }).catch(() => undefined),
      pool
        .submit('t', 'c', { sessionId: 's', onSettled: cb('c'), signal: c.signal })
        .catch(() => undefined),
    ];
    c.abort('stop');
    await Promise.all(work);
    expect(log).toEqual([
      expect.stringMatching(/^c cancelled TaskCancelledError/),
      'run a',
      'a completed a',
      'run b',
      'b failed Error: b failed',
    ]);
    await expect(pool.submit('t', 'x', { onSettled: 'no' as never })).rejects.toThrow(
      /"onSettled"/,
    );
  });
});

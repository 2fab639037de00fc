import { jest } from '@jest/globals';
import { filter, map } from 'rxjs';
import { Dispatcher, EventSubscriberError, type PoolEvent } from '../../lib/core/index.js';
import { deferred, flush } from '../support/deferred.js';

describe('Dispatcher events$', () => {
  it('tells each task story in order, and lane, resize and drain events', async () => {
    const pool = new Dispatcher({ lanes: 2 });
    pool.registerHandler('ok', (n: number) => n);
    pool.registerHandler('bad', () => Promise.reject(new Error('nope')));
    const events: PoolEvent[] = [];
    let completed = false;
    pool.events$.subscribe({ next: (e) => events.push(e), complete: () => (completed = true) });
    pool.start();
    await pool.submit('ok', 1, { sessionId: 's' });
    await pool.submit('bad', 2).catch(() => undefined);
    await pool.resize(3);
    await pool.resize(2);
    await pool.drain();

    const kinds = events.map((e) =>
      e.type.startsWith('lane') || e.type === 'resized'
        ? e.type
        : `${e.type}${'taskId' in e ? ` #${e.taskId}` : ''}`,
    );
    expect(kinds).toEqual([
      'accepted #1',
      'started #1',
      'completed #1',
      'accepted #2',
      'started #2',
      'failed #2',
      'lane-added',
      'resized',
      'lane-retiring',
      'resized',
      'lane-removed',
      'drain-started',
      'drained',
    ]);
    expect(events[1]).toMatchObject({
      type: 'started',
      taskType: 'ok',
      sessionId: 's',
      attempt: 1,
    });
    expect(events[5]).toMatchObject({ type: 'failed', taskType: 'bad', error: new Error('nope') });
    expect(events.find((e) => e.type === 'resized')).toEqual({ type: 'resized', from: 2, to: 3 });
    expect(completed).toBe(true);
  });

  it('reports cancellations at the drain deadline', async () => {
    const pool = new Dispatcher({ lanes: 1 });
    const gate = deferred();
    pool.registerHandler('hold', () => gate.promise);
    pool.start();
    const cancelled: PoolEvent[] = [];
    pool.events$.subscribe((e) => e.type === 'cancelled' && cancelled.push(e));
    const a = pool.submit('hold', null, { sessionId: 's' });
    const b = pool.submit('hold', null, { sessionId: 's' }).catch((e: unknown) => e);
    await flush();
    const report = pool.drain(0);
    await new Promise((r) => setTimeout(r, 0)); // the deadline timer was created first, so it has fired
    gate.resolve();
    await Promise.all([a, b, report]);
    expect(cancelled).toEqual([
      { type: 'cancelled', taskId: 2, taskType: 'hold', sessionId: 's', reason: 'shutdown' },
    ]);
  });

  it('contains a throwing subscriber or operator: nothing is rethrown on a timer, other subscribers and tasks go on, onSubscriberError hears each', async () => {
    // rxjs reports a subscriber's throw by rethrowing it from a setTimeout (which kills a
    // process); with that timer faked, running it shows whether anything escaped.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
    try {
      const heard: EventSubscriberError[] = [];
      const pool = new Dispatcher({ onSubscriberError: (e) => heard.push(e) });
      pool.registerHandler('t', (n: number) => n * 2);
      pool.events$.subscribe(() => {
        throw new Error('subscriber bug');
      });
      // An operator's throw ends its own subscription through the error channel; this one has no error handler.
      pool.events$
        .pipe(
          map((e) => {
            if (e.type === 'completed') throw new Error('operator bug');
            return e;
          }),
        )
        .subscribe(() => undefined);
      const seen: string[] = [];
      pool.events$.pipe(filter((e) => e.type !== 'accepted')).subscribe((e) => seen.push(e.type));
      pool.start();
      await expect(pool.submit('t', 2)).resolves.toBe(4);
      await expect(pool.submit('t', 3)).resolves.toBe(6);
      expect(() => jest.runOnlyPendingTimers()).not.toThrow();
      expect(seen).toEqual(['started', 'completed', 'started', 'completed']);
      expect(heard.map((e) => [e.code, (e.cause as Error).message])).toEqual([
        ['EVENT_SUBSCRIBER_FAILED', 'subscriber bug'],
        ['EVENT_SUBSCRIBER_FAILED', 'subscriber bug'],
        ['EVENT_SUBSCRIBER_FAILED', 'subscriber bug'],
        ['EVENT_SUBSCRIBER_FAILED', 'operator bug'],
        ['EVENT_SUBSCRIBER_FAILED', 'subscriber bug'],
        ['EVENT_SUBSCRIBER_FAILED', 'subscriber bug'],
        ['EVENT_SUBSCRIBER_FAILED', 'subscriber bug'],
      ]);
      expect(heard[0]).toBeInstanceOf(EventSubscriberError);
      expect(heard[0].message).toMatch(/'accepted' event.*onSubscriberError/);
    } finally {
      jest.useRealTimers();
    }
  });

  it("leaves a subscriber's own error handler in charge, and refuses a bad onSubscriberError", () => {
    const pool = new Dispatcher();
    const errors: unknown[] = [];
    pool.events$
      .pipe(
        map(() => {
          throw new Error('mine');
        }),
      )
      .subscribe({ error: (e) => errors.push(e) });
    pool.registerHandler('t', () => 1);
    pool.start();
    void pool.submit('t', null);
    expect(errors).toMatchObject([{ message: 'mine' }]);
    expect(() => new Dispatcher({ onSubscriberError: 1 as never })).toThrow(/onSubscriberError/);
  });

  it('counts outcomes per task type in stats()', async () => {
    const pool = new Dispatcher();
    pool.registerHandler('a', () => 1);
    pool.registerHandler('b', () => {
      throw new Error('x');
    });
    pool.start();
    await pool.submit('a', null);
    await pool.submit('a', null);
    await pool.submit('b', null).catch(() => undefined);
    expect(pool.stats().types).toEqual({
      a: { accepted: 2, completed: 2, failed: 0, timedOut: 0, cancelled: 0 },
      b: { accepted: 1, completed: 0, failed: 1, timedOut: 0, cancelled: 0 },
    });
  });
});

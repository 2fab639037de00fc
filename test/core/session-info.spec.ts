import { jest } from '@jest/globals';
import {
  Dispatcher,
  type EventSubscriberError,
  InvalidOptionError,
  type PoolEvent,
} from '../../lib/core/index.js';
import { deferred, flush } from '../support/deferred.js';

describe('Dispatcher.laneOf / sessionInfo', () => {
  it("reads an active session's lane, waiting tasks and running task without creating state", async () => {
    const pool = new Dispatcher({ lanes: 4, laneConcurrency: 2 });
    const gate = deferred();
    pool.registerHandler('hold', () => gate.promise);
    pool.start();
    // Before any task: no lane of its own yet, and looking does not create one.
    expect(pool.laneOf('a')).toBeUndefined();
    const idle = pool.sessionInfo('a');
    expect(idle).toEqual({
      sessionId: 'a',
      laneId: expect.any(Number),
      active: false,
      queued: 0,
      running: false,
    });
    expect(pool.stats().activeSessions).toBe(0);

    const work = [1, 2, 3].map((n) => pool.submit('hold', n, { sessionId: 'a' }));
    await flush();
    // The ring's choice for the idle session is where its work went.
    expect(pool.laneOf('a')).toBe(idle.laneId);
    expect(pool.sessionInfo('a')).toEqual({
      sessionId: 'a',
      laneId: idle.laneId,
      active: true,
      queued: 2,
      running: true,
    });
    const lane = pool.stats().lanes.find((l) => l.id === idle.laneId)!;
    expect(lane).toMatchObject({ queued: 2, running: 1 });

    gate.resolve();
    await Promise.all(work);
    expect(pool.laneOf('a')).toBeUndefined();
    expect(pool.sessionInfo('a')).toMatchObject({ active: false, queued: 0, running: false });
    await pool.drain();
  });

  it('follows a session moved by a lane removal: its waiting work goes where the ring says', async () => {
    // The ring: 'x' waits behind the blocker on their shared home (least-loaded would not).
    const pool = new Dispatcher({ lanes: 3, placement: 'ring' });
    const gate = deferred();
    pool.registerHandler('hold', () => gate.promise);
    pool.start();
    // A session that waits (its lane is busy with another session) moves at once.
    const blocker = [...Array(50).keys()]
      .map((i) => `s${i}`)
      .find((s) => pool.sessionInfo(s).laneId === pool.sessionInfo('x').laneId)!;
    const work = [pool.submit('hold', 0, { sessionId: blocker })];
    work.push(pool.submit('hold', 1, { sessionId: 'x' }));
    await flush();
    const from = pool.laneOf('x')!;
    expect(pool.sessionInfo('x')).toMatchObject({ active: true, queued: 1, running: false });
    const removal = pool.removeLane(from);
    expect(pool.laneOf('x')).not.toBe(from);
    expect(pool.laneOf('x')).toBe(pool.sessionInfo('x').laneId);
    expect(pool.stats().lanes.find((l) => l.id === pool.laneOf('x'))!.queued).toBe(1);
    gate.resolve();
    await Promise.all(work);
    await removal;
    await pool.drain();
  });

  it('names a bad session id', () => {
    const pool = new Dispatcher();
    expect(() => pool.laneOf('')).toThrow(InvalidOptionError);
    expect(() => pool.sessionInfo(42 as never)).toThrow(/sessionId/);
  });
});

describe('Dispatcher.poolEvents$', () => {
  it('carries lane, resize, scaling and drain events, and builds no task event', async () => {
    const pool = new Dispatcher({ lanes: 2 });
    pool.registerHandler('ok', (n: number) => n);
    const events: PoolEvent[] = [];
    let completed = false;
    pool.poolEvents$.subscribe({ next: (e) => events.push(e), complete: () => (completed = true) });
    pool.start();
    await pool.submit('ok', 1, { sessionId: 's' });
    await pool.submit('ok', 2);
    await pool.resize(3);
    await pool.resize(2);
    pool.publish({
      type: 'scaling-decision',
      direction: 'hold',
      desired: 2,
      applied: false,
      reason: 'steady',
      inputs: { lanes: 2 },
    });
    await pool.drain();
    expect(events.map((e) => e.type)).toEqual([
      'lane-added',
      'resized',
      'lane-retiring',
      'resized',
      'lane-removed',
      'scaling-decision',
      'drain-started',
      'drained',
    ]);
    expect(completed).toBe(true);
  });

  it('beside an events$ subscriber, each stream gets its own share', async () => {
    const pool = new Dispatcher({ lanes: 1 });
    pool.registerHandler('ok', (n: number) => n);
    const all: string[] = [];
    const poolOnly: string[] = [];
    pool.events$.subscribe((e) => all.push(e.type));
    pool.poolEvents$.subscribe((e) => poolOnly.push(e.type));
    pool.start();
    await pool.submit('ok', 1);
    pool.addLane();
    expect(all).toEqual(['accepted', 'started', 'completed', 'lane-added']);
    expect(poolOnly).toEqual(['lane-added']);
    await pool.drain();
  });

  it('contains a throwing subscriber as events$ does: onSubscriberError hears it, the pool goes on', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
    try {
      const heard: EventSubscriberError[] = [];
      const pool = new Dispatcher({ lanes: 1, onSubscriberError: (e) => heard.push(e) });
      pool.registerHandler('ok', (n: number) => n);
      pool.poolEvents$.subscribe(() => {
        throw new Error('dashboard bug');
      });
      pool.start();
      pool.addLane();
      await expect(pool.submit('ok', 1)).resolves.toBe(1);
      expect(() => jest.runOnlyPendingTimers()).not.toThrow();
      expect(heard.map((e) => [e.code, (e.cause as Error).message])).toEqual([
        ['EVENT_SUBSCRIBER_FAILED', 'dashboard bug'],
      ]);
      await pool.drain();
    } finally {
      jest.useRealTimers();
    }
  });
});

import { jest } from '@jest/globals';
import { Dispatcher } from '../../lib/core/index.js';
import { AcceptClock, BusyMeter } from '../../lib/core/load-meter.js';
import { deferred, flush } from '../support/deferred.js';

afterEach(() => jest.useRealTimers());

describe('BusyMeter', () => {
  it('adds closed loops and counts open ones up to now', () => {
    const m = new BusyMeter();
    m.started(100);
    m.started(150);
    expect(m.busyMs(200)).toBe(150);
    m.ended(250, 100);
    expect(m.busyMs(300)).toBe(150 + 150);
    m.ended(300, 150);
    expect(m.busyMs(1_000)).toBe(300);
  });
});

describe('AcceptClock', () => {
  it('gives the lower bound of a task age from the first checkpoint after it', () => {
    const c = new AcceptClock();
    c.checkpoint(1, 0); // nothing accepted yet at t=0
    c.checkpoint(11, 100); // tasks 1..10 accepted by t=100
    c.checkpoint(11, 150); // no new task: ignored
    c.checkpoint(21, 200);
    expect(c.ageOf(5, 1_000)).toBe(900);
    expect(c.ageOf(15, 1_000)).toBe(800);
    expect(c.ageOf(25, 1_000)).toBe(0); // accepted after the last checkpoint
  });

  it('keeps a bounded ring and still answers for tasks older than it', () => {
    const c = new AcceptClock();
    for (let i = 0; i < 10_000; i++) c.checkpoint(i + 1, i);
    expect(c.ageOf(0, 20_000)).toBe(20_000 - (10_000 - 4096));
    expect(c.ageOf(9_998, 20_000)).toBe(20_000 - 9_998); // checkpoint (9_999, t=9_998)
  });
});

describe('Dispatcher load figures', () => {
  it('reports busy time, utilization and the age of the oldest waiting task', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1 });
    const hold = deferred();
    pool.registerHandler('hold', () => hold.promise);
    pool.start();
    const first = pool.submit('hold', null, { sessionId: 'a' });
    const second = pool.submit('hold', null, { sessionId: 'a' });
    await flush();
    expect(pool.stats()).toMatchObject({ running: 1, queued: 1 });
    await jest.advanceTimersByTimeAsync(2_000);
    const s = pool.stats();
    expect(s.oldestWaitMs).toBeGreaterThanOrEqual(2_000);
    expect(s.oldestWaitMs).toBeLessThan(2_100);
    expect(s.busyMs).toBeGreaterThanOrEqual(2_000);
    expect(s.lanes[0].utilization).toBeGreaterThan(0.95);
    hold.resolve();
    await Promise.all([first, second]);
    await flush();
    expect(pool.stats().oldestWaitMs).toBe(0);
    await jest.advanceTimersByTimeAsync(2_000);
    const idle = pool.stats();
    expect(idle.busyMs).toBeLessThan(2_100);
    expect(idle.lanes[0].utilization).toBeLessThan(0.55);
  });

  // Found by the sample's autoscale demo: "utilization -0.35" after an idle lane was removed.
  it('keeps the busy time of a lane removed while idle', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 2 });
    pool.registerHandler('wait', () => new Promise((resolve) => setTimeout(resolve, 1_000)));
    pool.start();
    const done = [pool.submit('wait', null), pool.submit('wait', null)];
    await jest.advanceTimersByTimeAsync(1_000);
    await Promise.all(done);
    const before = pool.stats().busyMs;
    expect(before).toBeGreaterThanOrEqual(2_000);
    await pool.removeLane(1);
    expect(pool.stats().busyMs).toBe(before);
  });
});

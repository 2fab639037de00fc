import { jest } from '@jest/globals';
import { Dispatcher } from '../../lib/core/index.js';
import { ThroughputMeter } from '../../lib/core/load-meter.js';
import { LatencyRecorder } from '../../lib/core/latency.js';

afterEach(() => jest.useRealTimers());

describe('latency histograms', () => {
  it('reports wait and run percentiles per type and for the pool', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1, latencySampleEvery: 1 });
    pool.registerHandler('slow', () => new Promise((r) => setTimeout(r, 100)));
    pool.registerHandler('fast', () => new Promise((r) => setTimeout(r, 10)));
    pool.start();
    // One lane: the 4 slow tasks run back to back, so they wait 0, 100, 200, 300 ms.
    const work = [0, 1, 2, 3].map(() => pool.submit('slow', null, { sessionId: 's' }));
    await jest.advanceTimersByTimeAsync(400);
    await Promise.all(work);
    const p = pool.submit('fast', null);
    await jest.advanceTimersByTimeAsync(10);
    await p;
    const s = pool.stats();
    const slow = s.types.slow.latency!;
    expect(slow.run).toMatchObject({
      count: 4,
      p50: expect.closeTo(100, 0),
      max: expect.closeTo(100, 0),
    });
    expect(slow.wait.count).toBe(4);
    expect(slow.wait.max).toBeCloseTo(300, -1);
    expect(slow.wait.p50).toBeCloseTo(100, -1);
    expect(s.types.fast.latency!.run.count).toBe(1);
    expect(s.latency.run.count).toBe(5);
    expect(s.latency.run.p99).toBeCloseTo(100, 0);
  });

  it('never reports a percentile above the maximum (HdrHistogram rounds percentiles up to their bucket)', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1, latencySampleEvery: 1 });
    // 143,000 µs falls in a bucket 1,024 µs wide whose highest equivalent value is 143,359 µs.
    pool.registerHandler('t', () => new Promise((r) => setTimeout(r, 143)));
    pool.start();
    const done = pool.submit('t', null);
    await jest.advanceTimersByTimeAsync(143);
    await done;
    const { run } = pool.stats().latency;
    expect(run.max).toBe(143);
    expect([run.p50, run.p95, run.p99]).toEqual([143, 143, 143]);
  });

  it('samples one task in latencySampleEvery, and none with 0', async () => {
    const sampled = new Dispatcher({ latencySampleEvery: 4 });
    const off = new Dispatcher({ latencySampleEvery: 0 });
    for (const pool of [sampled, off]) {
      pool.registerHandler('t', () => 1);
      pool.start();
      await Promise.all(Array.from({ length: 40 }, () => pool.submit('t', null)));
    }
    expect(sampled.stats().latency.run.count).toBe(10);
    expect(off.stats().latency.run.count).toBe(0);
    expect(off.stats().types.t.latency).toBeUndefined();
    expect(() => new Dispatcher({ latencySampleEvery: -1 })).toThrow(
      /latencySampleEvery.*0: off, 1: every task/,
    );
  });
});

describe('ThroughputMeter', () => {
  it('measures finished tasks per second over the windows its snapshots span', () => {
    const m = new ThroughputMeter();
    expect(m.rates(0, 0, [1_000, 10_000])).toEqual([0, 0]);
    for (let t = 1_000; t <= 20_000; t += 1_000) m.rates(t, (t / 1_000) * 50, [1_000, 10_000]);
    // 50 tasks/s for 20 s, then 200 in the last second.
    expect(m.rates(21_000, 20 * 50 + 200, [1_000, 10_000])).toEqual([200, 65]);
  });
});

describe('recent latency windows', () => {
  it('forgets what is older than two 30 s windows; the since-start figures keep it', () => {
    const r = new LatencyRecorder();
    r.recordRun(500, 0); // a slow start...
    r.recordRun(2, 1_000);
    expect(LatencyRecorder.mergeRecent([r], 1_000).run).toMatchObject({ count: 2, max: 500 });
    // ...still within the previous window 40 s later (a new one began at 40 s)
    r.recordRun(3, 40_000);
    expect(LatencyRecorder.mergeRecent([r], 40_000).run).toMatchObject({ count: 3, max: 500 });
    // 75 s: the first window (begun at 0) is gone, the one begun at 40 s stays.
    r.recordRun(4, 75_000);
    const recent = LatencyRecorder.mergeRecent([r], 75_000).run;
    expect(recent).toMatchObject({ count: 2, max: 4 });
    expect(LatencyRecorder.merge([r]).run).toMatchObject({ count: 4, max: 500 });
    // Nothing recorded for a while: both windows age out at stats time.
    expect(LatencyRecorder.mergeRecent([r], 200_000).run.count).toBe(0);
  });

  it('stats().recentLatency covers sampled tasks of every type', async () => {
    const pool = new Dispatcher({ lanes: 1, latencySampleEvery: 1 });
    pool.registerHandler('a', () => 1);
    pool.registerHandler('b', () => 2);
    pool.start();
    await Promise.all([pool.submit('a', null), pool.submit('b', null), pool.submit('b', null)]);
    const s = pool.stats();
    expect(s.recentLatency.run.count).toBe(3);
    expect(s.recentLatency.wait.count).toBe(3);
  });
});

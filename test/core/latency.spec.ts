import { jest } from '@jest/globals';
import { Dispatcher } from '../../lib/core/index.js';
import { ThroughputMeter } from '../../lib/core/load-meter.js';

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

import { jest } from '@jest/globals';
import { Registry } from 'prom-client';
import { Dispatcher } from '../../lib/core/index.js';
import { registerPoolMetrics } from '../../lib/prometheus/index.js';
import { deferred, flush } from '../support/deferred.js';

describe('registerPoolMetrics', () => {
  it('exposes the pool figures on a scrape, and unregisters them', async () => {
    const registry = new Registry();
    const pool = new Dispatcher({ lanes: 3, latencySampleEvery: 1 });
    const gate = deferred();
    pool.registerHandler('ok', () => 1);
    pool.registerHandler('bad', () => {
      throw new Error('x');
    });
    pool.registerHandler('hold', () => gate.promise);
    pool.start();
    await pool.submit('ok', null);
    await pool.submit('bad', null).catch(() => undefined);
    const held = pool.submit('hold', null, { sessionId: 'a' });
    const queued = pool.submit('hold', null, { sessionId: 'a' });
    await flush();
    const unregister = registerPoolMetrics(pool, { registry, pool: 'chat' });

    const text = await registry.metrics();
    expect(text).toContain('worker_pool_lanes{pool="chat"} 3');
    expect(text).toContain('worker_pool_lanes_busy{pool="chat"} 1');
    expect(text).toContain('worker_pool_queued_tasks{pool="chat"} 1');
    expect(text).toContain('worker_pool_running_tasks{pool="chat"} 1');
    expect(text).toContain('worker_pool_active_sessions{pool="chat"} 1');
    expect(text).toContain('worker_pool_up{pool="chat"} 1');
    expect(text).toContain('worker_pool_tasks_total{pool="chat",type="ok",outcome="completed"} 1');
    expect(text).toContain('worker_pool_tasks_total{pool="chat",type="bad",outcome="failed"} 1');
    expect(text).toContain('worker_pool_tasks_total{pool="chat",type="hold",outcome="accepted"} 2');
    expect(text).toMatch(
      /worker_pool_latency_seconds\{pool="chat",phase="run",quantile="0.99"\} [0-9.e-]+/,
    );
    expect(text).toContain('# TYPE worker_pool_tasks_total counter');

    const stats = jest.spyOn(pool, 'stats');
    await registry.metrics();
    expect(stats).toHaveBeenCalledTimes(1); // one stats() per scrape, shared by every metric
    stats.mockRestore();

    gate.resolve();
    await Promise.all([held, queued]);
    await pool.drain();
    expect(await registry.metrics()).toContain('worker_pool_up{pool="chat"} 0');
    unregister();
    expect(await registry.metrics()).toBe('\n');
  });

  it('never scrapes quantile="1" below a lower quantile', async () => {
    jest.useFakeTimers();
    try {
      const registry = new Registry();
      const pool = new Dispatcher({ lanes: 4, latencySampleEvery: 1 });
      pool.registerHandler('t', (ms: number) => new Promise((r) => setTimeout(r, ms)));
      pool.start();
      // Run times of 140 to 143 ms: the top percent (143 ms, 143,000 µs) falls in a bucket
      // whose highest equivalent value, 143,359 µs, is what HdrHistogram reports for p99.
      const work = Array.from({ length: 100 }, (_, i) => pool.submit('t', 140 + (i % 4)));
      await jest.advanceTimersByTimeAsync(143 * 25);
      await Promise.all(work);
      registerPoolMetrics(pool, { registry });
      const text = await registry.metrics();
      for (const phase of ['wait', 'run']) {
        const quantile = (q: string) =>
          Number(
            text.match(
              new RegExp(
                `worker_pool_latency_seconds\\{pool="default",phase="${phase}",quantile="${q}"\\} ([0-9.e-]+)`,
              ),
            )![1],
          );
        const [p50, p95, p99, max] = ['0.5', '0.95', '0.99', '1'].map(quantile);
        expect(p50).toBeLessThanOrEqual(p95);
        expect(p95).toBeLessThanOrEqual(p99);
        expect(p99).toBeLessThanOrEqual(max);
      }
      expect(pool.stats().latency.run.max).toBe(143);
    } finally {
      jest.useRealTimers();
    }
  });
});

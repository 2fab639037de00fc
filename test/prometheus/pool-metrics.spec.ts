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
});

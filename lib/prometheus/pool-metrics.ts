import { Counter, Gauge, type Registry, register as globalRegistry } from 'prom-client';
import type { Dispatcher, PoolStats } from '../core/index.js';
import { perScrape } from './per-scrape.js';

export interface PoolMetricsOptions {
  /** Where to register. Default: prom-client's global registry. */
  registry?: Registry;
  /** Metric name prefix. Default: 'worker_pool_'. */
  prefix?: string;
  /** Value of the `pool` label. Default: 'default'. */
  pool?: string;
}

/**
 * Exposes a pool's figures as Prometheus metrics. Nothing runs until a scrape: each metric
 * reads `stats()` in its `collect()`, once per scrape. Returns a function that unregisters them.
 */
export function registerPoolMetrics(
  dispatcher: Dispatcher,
  options: PoolMetricsOptions = {},
): () => void {
  const registry = options.registry ?? globalRegistry;
  const prefix = options.prefix ?? 'worker_pool_';
  const pool = options.pool ?? 'default';
  const read = perScrape(() => dispatcher.stats());
  const names: string[] = [];
  const gauge = (name: string, help: string, value: (s: PoolStats) => number) => {
    names.push(prefix + name);
    return new Gauge({
      name: prefix + name,
      help,
      labelNames: ['pool'],
      registers: [registry],
      collect() {
        this.set({ pool }, value(read()));
      },
    });
  };
  const live = (s: PoolStats) => s.lanes.filter((l) => !l.retiring);
  gauge('lanes', 'Live lanes.', (s) => live(s).length);
  gauge(
    'lanes_busy',
    'Lanes running at least one task.',
    (s) => live(s).filter((l) => l.running > 0).length,
  );
  gauge('queued_tasks', 'Tasks waiting in the pool.', (s) => s.queued);
  gauge('running_tasks', 'Tasks whose handler is running.', (s) => s.running);
  gauge('retrying_tasks', 'Tasks waiting out a retry backoff.', (s) => s.retrying);
  gauge('active_sessions', 'Sessions with work queued or running.', (s) => s.activeSessions);
  gauge('oldest_wait_seconds', 'Age of the longest-waiting task.', (s) => s.oldestWaitMs / 1000);
  gauge(
    'busy_seconds',
    'Lane busy time since the pool started (use rate() for utilization).',
    (s) => s.busyMs / 1000,
  );
  gauge('up', '1 while the pool accepts work, 0 while draining or stopped.', (s) =>
    s.state === 'created' || s.state === 'running' ? 1 : 0,
  );

  names.push(`${prefix}tasks_total`);
  new Counter({
    name: `${prefix}tasks_total`,
    help: 'Tasks by outcome, per task type.',
    labelNames: ['pool', 'type', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [type, c] of Object.entries(read().types)) {
        for (const outcome of [
          'accepted',
          'completed',
          'failed',
          'timedOut',
          'cancelled',
        ] as const) {
          this.inc({ pool, type, outcome }, c[outcome]);
        }
      }
    },
  });
  names.push(`${prefix}rejected_total`);
  new Counter({
    name: `${prefix}rejected_total`,
    help: 'Submissions refused at admission (queue full, closed, aborted while waiting).',
    labelNames: ['pool'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ pool }, read().rejected);
    },
  });
  names.push(`${prefix}latency_seconds`);
  new Gauge({
    name: `${prefix}latency_seconds`,
    help: 'Wait (accept to start) and run time quantiles of sampled tasks, since the pool started.',
    labelNames: ['pool', 'phase', 'quantile'],
    registers: [registry],
    collect() {
      const { latency } = read();
      for (const phase of ['wait', 'run'] as const) {
        const l = latency[phase];
        for (const [q, v] of [
          ['0.5', l.p50],
          ['0.95', l.p95],
          ['0.99', l.p99],
          ['1', l.max],
        ] as const) {
          this.set({ pool, phase, quantile: q }, v / 1000);
        }
      }
    },
  });
  return () => names.forEach((n) => registry.removeSingleMetric(n));
}

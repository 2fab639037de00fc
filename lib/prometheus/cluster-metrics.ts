import { Counter, Gauge, type Registry, register as globalRegistry } from 'prom-client';
import type { Cluster } from '../cluster/cluster.js';
import type { ClusterWideStats } from '../cluster/cluster.stats.js';
import { perScrape } from './per-scrape.js';
import type { PoolMetricsOptions } from './pool-metrics.js';

/** What the metrics read of a Cluster. */
export type ClusterMetricsSource = Pick<Cluster, 'stats' | 'clusterStats'>;

/**
 * Exposes cluster mode's figures as Prometheus metrics, beside registerPoolMetrics' (the same
 * options and labels). This replica's counts are read from `stats()`; the cluster-wide ones
 * from `clusterStats()`, one database read per scrape shared by every metric. Those are the
 * same on every replica: aggregate them with max(), not sum(). A scrape while the database is
 * unreachable still succeeds: `cluster_database_up` is 0 and the cluster-wide gauges are left
 * out rather than stale. Returns a function that unregisters them.
 */
export function registerClusterMetrics(
  cluster: ClusterMetricsSource,
  options: PoolMetricsOptions = {},
): () => void {
  const registry = options.registry ?? globalRegistry;
  const prefix = `${options.prefix ?? 'worker_pool_'}cluster_`;
  const pool = options.pool ?? 'default';
  // One read of each per scrape: a registry collects its metrics together.
  const readLocal = perScrape(() => cluster.stats());
  let wide: Promise<ClusterWideStats | undefined> | undefined;
  const readWide = (): Promise<ClusterWideStats | undefined> => {
    if (wide === undefined) {
      wide = cluster.clusterStats().then(
        (stats) => stats,
        () => undefined,
      );
      void wide.then(() => setImmediate(() => (wide = undefined)));
    }
    return wide;
  };
  const names: string[] = [];
  const labelNames = ['pool'];
  const registers = [registry];

  names.push(`${prefix}held_tasks`);
  new Gauge({
    name: `${prefix}held_tasks`,
    help: 'Tasks this replica holds (fetched, outcome not yet written).',
    labelNames,
    registers,
    collect() {
      this.set({ pool }, readLocal().held);
    },
  });
  names.push(`${prefix}jobs_total`);
  new Counter({
    name: `${prefix}jobs_total`,
    help: "This replica's jobs by what happened: fetched, completed, failed (an attempt), handed_back (at a drain), write_error (an outcome not written).",
    labelNames: ['pool', 'outcome'],
    registers,
    collect() {
      const s = readLocal();
      this.reset();
      this.inc({ pool, outcome: 'fetched' }, s.fetched);
      this.inc({ pool, outcome: 'completed' }, s.completed);
      this.inc({ pool, outcome: 'failed' }, s.failed);
      this.inc({ pool, outcome: 'handed_back' }, s.handedBack);
      this.inc({ pool, outcome: 'write_error' }, s.writeErrors);
    },
  });
  names.push(`${prefix}database_up`);
  new Gauge({
    name: `${prefix}database_up`,
    help: "1 when the cluster's database answered this scrape's read, 0 when it did not.",
    labelNames,
    registers,
    async collect() {
      this.set({ pool }, (await readWide()) === undefined ? 0 : 1);
    },
  });
  const wideGauge = (name: string, help: string, value: (s: ClusterWideStats) => number) => {
    names.push(prefix + name);
    new Gauge({
      name: prefix + name,
      help: `${help} Cluster-wide, the same on every replica: aggregate with max().`,
      labelNames,
      registers,
      async collect() {
        const stats = await readWide();
        this.reset();
        if (stats !== undefined) this.set({ pool }, value(stats));
      },
    });
  };
  wideGauge('queued_tasks', 'Tasks waiting in the queues (or to retry).', (s) => s.queued);
  wideGauge('active_tasks', 'Tasks running on some replica.', (s) => s.active);
  wideGauge('oldest_wait_seconds', 'Age of the oldest waiting task.', (s) => s.oldestWaitMs / 1000);
  wideGauge(
    'blocked_sessions',
    'Sessions held by a task that failed for good (counted up to 100 per shard).',
    (s) => s.blockedSessions.length,
  );
  wideGauge(
    'replicas',
    'Live replicas (those that opened their own connection).',
    (s) => s.replicas,
  );
  return () => names.forEach((n) => registry.removeSingleMetric(n));
}

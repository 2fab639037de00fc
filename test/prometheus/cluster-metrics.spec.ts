// registerClusterMetrics over a stand-in for a Cluster (its two reads), so it runs on every
// Node: what a scrape shows, one cluster-wide read per scrape, and a scrape while the database
// is unreachable. test/cluster/cluster.spec.ts scrapes a real cluster.
import { describe, expect, it, jest } from '@jest/globals';
import { Registry } from 'prom-client';
import type { ClusterStats, ClusterWideStats } from '../../lib/cluster/cluster.stats.js';
import { registerClusterMetrics } from '../../lib/prometheus/index.js';

function source() {
  const local: ClusterStats = {
    held: 7,
    fetches: 3,
    fetched: 40,
    completed: 30,
    failed: 2,
    handedBack: 1,
    writeErrors: 0,
  };
  const wide: ClusterWideStats = {
    queued: 120,
    active: 9,
    oldestWaitMs: 2_500,
    blockedSessions: ['a', 'b'],
    replicas: 3,
  };
  const down = { now: false };
  return {
    down,
    cluster: {
      stats: jest.fn(() => local),
      clusterStats: jest.fn(() =>
        down.now ? Promise.reject(new Error('ECONNREFUSED')) : Promise.resolve(wide),
      ),
    },
  };
}

describe('registerClusterMetrics', () => {
  it("exposes this replica's counts and the cluster-wide figures, reading each once per scrape, and unregisters them", async () => {
    const registry = new Registry();
    const { cluster } = source();
    const unregister = registerClusterMetrics(cluster, { registry, pool: 'chat' });
    const text = await registry.metrics();
    expect(text).toContain('worker_pool_cluster_held_tasks{pool="chat"} 7');
    expect(text).toContain('worker_pool_cluster_jobs_total{pool="chat",outcome="fetched"} 40');
    expect(text).toContain('worker_pool_cluster_jobs_total{pool="chat",outcome="completed"} 30');
    expect(text).toContain('worker_pool_cluster_jobs_total{pool="chat",outcome="failed"} 2');
    expect(text).toContain('worker_pool_cluster_jobs_total{pool="chat",outcome="handed_back"} 1');
    expect(text).toContain('worker_pool_cluster_jobs_total{pool="chat",outcome="write_error"} 0');
    expect(text).toContain('worker_pool_cluster_database_up{pool="chat"} 1');
    expect(text).toContain('worker_pool_cluster_queued_tasks{pool="chat"} 120');
    expect(text).toContain('worker_pool_cluster_active_tasks{pool="chat"} 9');
    expect(text).toContain('worker_pool_cluster_oldest_wait_seconds{pool="chat"} 2.5');
    expect(text).toContain('worker_pool_cluster_blocked_sessions{pool="chat"} 2');
    expect(text).toContain('worker_pool_cluster_replicas{pool="chat"} 3');
    expect(cluster.stats).toHaveBeenCalledTimes(1);
    expect(cluster.clusterStats).toHaveBeenCalledTimes(1);
    // The next scrape reads again.
    await new Promise((resolve) => setImmediate(resolve));
    await registry.metrics();
    expect(cluster.clusterStats).toHaveBeenCalledTimes(2);
    unregister();
    expect(await registry.metrics()).toBe('\n');
  });

  it('a scrape while the database is unreachable succeeds: database_up 0, no stale cluster-wide figures, the replica counts still there', async () => {
    const registry = new Registry();
    const { cluster, down } = source();
    registerClusterMetrics(cluster, { registry });
    expect(await registry.metrics()).toContain(
      'worker_pool_cluster_queued_tasks{pool="default"} 120',
    );
    await new Promise((resolve) => setImmediate(resolve));
    down.now = true;
    const text = await registry.metrics();
    expect(text).toContain('worker_pool_cluster_database_up{pool="default"} 0');
    expect(text).not.toMatch(/worker_pool_cluster_queued_tasks\{/);
    expect(text).not.toMatch(/worker_pool_cluster_replicas\{/);
    expect(text).toContain('worker_pool_cluster_held_tasks{pool="default"} 7');
  });
});

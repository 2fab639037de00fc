/**
 * The database side of a cluster, as one replica sees it: the names of its queues and which
 * shard a session's key goes to, opening pg-boss on the connection string, making the queues
 * with their settings, and reading the whole cluster's state from the job table. It holds no
 * connection itself: each call is handed the PgBoss to use.
 */
import type { PgBoss } from 'pg-boss';
import { InvalidOptionError } from '../core/errors.js';
import { hash32 } from '../core/hash.js';
import {
  ClusterConnectionError,
  ClusterDependencyError,
  ClusterQueuePolicyError,
} from './cluster.errors.js';
import type { ResolvedClusterOptions } from './cluster.options.js';
import type { ClusterWideStats } from './cluster.stats.js';

const MIN_NODE = [22, 12];

export class ClusterDatabase {
  constructor(private readonly options: ResolvedClusterOptions) {}

  /** The name of shard `i`'s queue. */
  queueName(shard: number): string {
    return `${this.options.queuePrefix}.${shard}`;
  }

  get deadLetterQueue(): string {
    return `${this.options.queuePrefix}.dead`;
  }

  /** The shard of a task's key (`s:<session>`, or `u:<id>` for an unkeyed task). */
  shardOf(key: string): number {
    return hash32(key) % this.options.shards;
  }

  /** Where the database is, for messages: never a password. */
  get target(): string {
    return this.options.connectionString === undefined
      ? 'the database of cluster.boss'
      : redact(this.options.connectionString);
  }

  /** The name our own pg-boss instances register under, so replicas can be counted. */
  private get instanceName(): string {
    return `nest-worker-pool:${this.options.queuePrefix}`;
  }

  /** A started PgBoss on `cluster.connectionString` (loaded only now); the caller stops it. */
  async open(): Promise<PgBoss> {
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    if (major < MIN_NODE[0]! || (major === MIN_NODE[0] && minor < MIN_NODE[1]!)) {
      throw new ClusterDependencyError(`this is Node ${process.versions.node}`);
    }
    let PgBossClass: typeof PgBoss;
    try {
      ({ PgBoss: PgBossClass } = await import('pg-boss'));
    } catch (error) {
      throw new ClusterDependencyError('pg-boss could not be loaded', error);
    }
    const url = this.options.connectionString!;
    const boss = new PgBossClass({
      connectionString: url,
      schedule: false,
      connectionTimeoutMillis: 10_000,
      max: this.options.poolSize,
      instanceName: this.instanceName,
      schema: this.options.schema,
      superviseIntervalSeconds: this.options.monitorIntervalSeconds,
      monitorIntervalSeconds: this.options.monitorIntervalSeconds,
    });
    boss.on('error', (error) => this.options.onError(error));
    try {
      await boss.start();
    } catch (error) {
      await boss.stop({ graceful: false }).catch(() => {});
      throw new ClusterConnectionError(redact(url), error);
    }
    return boss;
  }

  /** Makes the shard queues (and the dead-letter one) if missing, and applies the settings. */
  async makeQueues(boss: PgBoss): Promise<void> {
    const { retry, onFailure, heartbeatSeconds } = this.options;
    const deadLetter = onFailure === 'dead-letter' ? this.deadLetterQueue : undefined;
    if (deadLetter !== undefined) await boss.createQueue(deadLetter, { policy: 'standard' });
    const settings = {
      retryLimit: retry.limit,
      retryDelay: retry.delaySeconds,
      retryBackoff: retry.backoff,
      heartbeatSeconds,
    };
    for (let shard = 0; shard < this.options.shards; shard++) {
      const name = this.queueName(shard);
      // createQueue leaves an existing queue as it is: check its policy, then apply the settings.
      await boss.createQueue(name, {
        policy: 'key_strict_fifo',
        ...settings,
        ...(deadLetter === undefined ? {} : { deadLetter }),
      });
      const queue = await boss.getQueue(name);
      if (queue !== null && queue.policy !== 'key_strict_fifo')
        throw new ClusterQueuePolicyError(name, String(queue.policy));
      await boss.updateQueue(name, { ...settings, deadLetter: deadLetter ?? null });
    }
  }

  /** The whole cluster, read from the database now (a few queries per shard). */
  async clusterStats(boss: PgBoss): Promise<ClusterWideStats> {
    const stats: ClusterWideStats = {
      queued: 0,
      active: 0,
      oldestWaitMs: 0,
      blockedSessions: [],
      replicas: 0,
    };
    const queues = Array.from({ length: this.options.shards }, (_, i) => this.queueName(i));
    // Counted now, not pg-boss's cached counts (up to a monitor interval old).
    const { rows } = await boss.getDb().executeSql(
      `SELECT count(*) FILTER (WHERE state < 'active')::int AS queued,
              count(*) FILTER (WHERE state = 'active')::int AS active,
              (extract(epoch FROM now() - min(created_on) FILTER (WHERE state < 'active')) * 1000)::float8 AS oldest
         FROM ${this.options.schema}.job WHERE name = ANY($1::text[])`,
      [queues],
    );
    const row = rows[0] as { queued: number; active: number; oldest: number | null };
    stats.queued = row.queued;
    stats.active = row.active;
    stats.oldestWaitMs = Math.max(0, Math.round(row.oldest ?? 0));
    for (const queue of queues) {
      for (const key of await boss.getBlockedKeys(queue, { limit: 100 })) {
        if (key.startsWith('s:')) stats.blockedSessions.push(key.slice(2));
      }
    }
    const instances = await boss.getInstances();
    stats.replicas = instances.filter((i) => i.live && i.name === this.instanceName).length;
    stats.blockedSessions.sort();
    return stats;
  }

  /** onFailure 'block': the task that failed for good and holds `sessionId`, if any. */
  async failedTask(
    boss: PgBoss,
    sessionId: string,
  ): Promise<{ queue: string; id: string } | undefined> {
    if (typeof sessionId !== 'string' || sessionId.length === 0) {
      throw new InvalidOptionError('sessionId', sessionId, 'a non-empty string');
    }
    const key = `s:${sessionId}`;
    const queue = this.queueName(this.shardOf(key));
    const jobs = await boss.findJobs(queue, { key });
    const failed = jobs.find((j) => j.state === 'failed');
    return failed === undefined ? undefined : { queue, id: failed.id };
  }
}

/** The connection string without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'the connection string given (it is not a valid URL)';
  }
}

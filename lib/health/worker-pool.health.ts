import { Inject, Injectable, Optional } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { HealthIndicatorService } from '@nestjs/terminus';
import { type Dispatcher, InvalidOptionError } from '../core/index.js';
import { errorMessage } from '../core/error-text.js';
import { checkKeys } from '../core/options.js';
import { type PoolHealthThresholds, poolHealth } from './pool-health.js';
import { DEFAULT_POOL_NAME } from '../worker-pool.constants.js';
import { HealthSetupError, UnknownPoolError } from '../worker-pool.errors.js';
import { getClusterToken, getDispatcherToken } from '../worker-pool.tokens.js';
import type { Cluster } from '../cluster/cluster.js';

export interface WorkerPoolHealthOptions extends PoolHealthThresholds {
  /** Which pool to check. Default: the default pool. */
  pool?: string;
}

export interface WorkerPoolClusterHealthOptions {
  /** Which pool to check. Default: the default pool. */
  pool?: string;
  /** Degraded when the oldest waiting task (on any replica) is older than this. Default: 60_000 ms. */
  maxOldestWaitMs?: number;
  /** Down when the database does not answer within this. Default: 5_000 ms. */
  timeoutMs?: number;
}

/**
 * Terminus indicator for a pool: `up` with its key figures, `degraded` when a backlog or an
 * old waiting task passes the thresholds, `down` when it no longer accepts work.
 *
 * ```ts
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.pool.isHealthy('workerPool')]); }
 * ```
 */
@Injectable()
export class WorkerPoolHealthIndicator {
  private readonly indicators: HealthIndicatorService;

  constructor(
    // Optional so that a missing TerminusModule gets a message that says so, not Nest's generic one.
    @Optional() @Inject(HealthIndicatorService) indicators: HealthIndicatorService | undefined,
    private readonly moduleRef: ModuleRef,
  ) {
    if (indicators === undefined || indicators === null) throw new HealthSetupError();
    this.indicators = indicators;
  }

  isHealthy(key = 'workerPool', options: WorkerPoolHealthOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError(
        'options',
        options,
        'an object such as { maxQueuedPerLane: 100 }',
      );
    }
    checkKeys(options, ['pool', 'maxQueuedPerLane', 'maxOldestWaitMs']);
    const { maxQueuedPerLane = 100, maxOldestWaitMs = 5_000 } = options;
    if (!(typeof maxQueuedPerLane === 'number' && maxQueuedPerLane >= 0)) {
      throw new InvalidOptionError('maxQueuedPerLane', maxQueuedPerLane, 'a number >= 0');
    }
    if (!(typeof maxOldestWaitMs === 'number' && maxOldestWaitMs >= 0)) {
      throw new InvalidOptionError('maxOldestWaitMs', maxOldestWaitMs, 'a number >= 0');
    }
    let pool: Dispatcher;
    try {
      pool = this.moduleRef.get<Dispatcher>(getDispatcherToken(options.pool), { strict: false });
    } catch {
      throw new UnknownPoolError(
        'WorkerPoolHealthIndicator.isHealthy',
        options.pool ?? DEFAULT_POOL_NAME,
      );
    }
    const { status, reason, data } = poolHealth(pool.stats(), {
      maxQueuedPerLane,
      maxOldestWaitMs,
    });
    const indicator = this.indicators.check(key);
    if (status === 'up') return indicator.up(data);
    if (status === 'degraded') return indicator.degraded({ ...data, reason });
    return indicator.down({ ...data, reason });
  }

  /**
   * Cluster mode, the whole cluster as the database sees it: `down` when the database does
   * not answer, `degraded` when a session is blocked (onFailure 'block') or the oldest waiting
   * task passes `maxOldestWaitMs`, else `up` with queue depth, running tasks, oldest wait and
   * the replicas seen.
   *
   * ```ts
   * check() { return this.health.check([() => this.pool.isClusterHealthy('cluster')]); }
   * ```
   */
  async isClusterHealthy(key = 'workerPoolCluster', options: WorkerPoolClusterHealthOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError('options', options, 'an object such as { timeoutMs: 5000 }');
    }
    checkKeys(options, ['pool', 'maxOldestWaitMs', 'timeoutMs']);
    const { maxOldestWaitMs = 60_000, timeoutMs = 5_000 } = options;
    if (!(typeof maxOldestWaitMs === 'number' && maxOldestWaitMs >= 0)) {
      throw new InvalidOptionError('maxOldestWaitMs', maxOldestWaitMs, 'a number >= 0');
    }
    if (!(typeof timeoutMs === 'number' && timeoutMs > 0 && timeoutMs < 2 ** 31)) {
      throw new InvalidOptionError('timeoutMs', timeoutMs, 'a number of ms > 0');
    }
    let cluster: Cluster | null;
    try {
      cluster = this.moduleRef.get<Cluster | null>(getClusterToken(options.pool), {
        strict: false,
      });
    } catch {
      throw new UnknownPoolError(
        'WorkerPoolHealthIndicator.isClusterHealthy',
        options.pool ?? DEFAULT_POOL_NAME,
      );
    }
    if (cluster === null) {
      throw new InvalidOptionError(
        'pool',
        options.pool ?? DEFAULT_POOL_NAME,
        'a pool configured with the cluster option (isClusterHealthy reads the cluster)',
      );
    }
    const indicator = this.indicators.check(key);
    let timer: NodeJS.Timeout | undefined;
    try {
      const stats = await Promise.race([
        cluster.clusterStats(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
      const data = { ...stats, blockedSessions: stats.blockedSessions.length };
      if (stats.blockedSessions.length > 0) {
        return indicator.degraded({
          ...data,
          reason: `blocked sessions (a task failed for good): ${stats.blockedSessions.slice(0, 5).join(', ')}; retrySession or skipSession them`,
        });
      }
      if (stats.oldestWaitMs > maxOldestWaitMs) {
        return indicator.degraded({
          ...data,
          reason: `oldest waiting task older than ${maxOldestWaitMs} ms`,
        });
      }
      return indicator.up(data);
    } catch (error) {
      return indicator.down({
        reason: `the cluster's database is unreachable: ${errorMessage(error)}`,
      });
    } finally {
      clearTimeout(timer);
    }
  }
}

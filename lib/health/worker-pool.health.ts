import { Inject, Injectable, Optional } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { HealthIndicatorService } from '@nestjs/terminus';
import { type Dispatcher, InvalidOptionError } from '../core/index.js';
import { checkKeys } from '../core/options.js';
import { type PoolHealthThresholds, poolHealth } from './pool-health.js';
import { DEFAULT_POOL_NAME } from '../worker-pool.constants.js';
import { HealthSetupError, UnknownPoolError } from '../worker-pool.errors.js';
import { getDispatcherToken } from '../worker-pool.tokens.js';

export interface WorkerPoolHealthOptions extends PoolHealthThresholds {
  /** Which pool to check. Default: the default pool. */
  pool?: string;
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
}

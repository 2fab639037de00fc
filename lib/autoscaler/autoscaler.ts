import { type Dispatcher, InvalidOptionError } from '../core/index.js';
import { checkKeys } from '../core/options.js';
import type { AutoscaleOptions } from './autoscale-options.interface.js';
import {
  type AutoscaleDecision,
  type AutoscalePolicy,
  type PoolSample,
  defaultAutoscalePolicy,
} from './autoscale-policy.js';

export interface AutoscaleRecord extends AutoscaleDecision {
  at: number;
  /** False when the decision was not carried out (paused, or the pool stopped accepting). */
  applied: boolean;
}

/**
 * Samples a pool on each tick, asks the policy for a size and resizes. Knows no scheduler:
 * whoever owns it calls `tick()` (the Nest layer registers a cron job for it).
 */
export class Autoscaler {
  private readonly policy: AutoscalePolicy;
  private readonly window: PoolSample[] = [];
  private readonly records: AutoscaleRecord[] = [];
  private last: { at: number; busyMs: number } | undefined;
  private lastResizeAt: number | undefined;
  private running: boolean;
  readonly min: number;
  readonly max: number;
  /** When the owner should tick, as a cron expression with seconds. */
  readonly cron: string;

  constructor(
    private readonly pool: Dispatcher,
    private readonly options: AutoscaleOptions,
    private readonly onDecision: (record: AutoscaleRecord) => void = () => undefined,
  ) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError('autoscale', options, 'an object such as { min: 2, max: 32 }');
    }
    checkKeys(
      options,
      ['min', 'max', 'cron', 'enabled', 'policy', 'history', 'windowMs'],
      'autoscale.',
    );
    const { min, max, enabled = true, history = 20, windowMs = 60_000 } = options;
    if (typeof enabled !== 'boolean')
      throw new InvalidOptionError('autoscale.enabled', enabled, 'true or false');
    if (!Number.isInteger(history) || history < 1 || history > 10_000)
      throw new InvalidOptionError('autoscale.history', history, 'an integer from 1 to 10000');
    if (typeof windowMs !== 'number' || !(windowMs > 0 && windowMs < Infinity)) {
      throw new InvalidOptionError('autoscale.windowMs', windowMs, 'a number of milliseconds > 0');
    }
    const maxLanes = pool.options.maxLanes;
    if (!Number.isInteger(min) || min < 1)
      throw new InvalidOptionError('autoscale.min', min, 'an integer >= 1');
    if (!Number.isInteger(max) || max < min || max > maxLanes) {
      throw new InvalidOptionError(
        'autoscale.max',
        max,
        `an integer from autoscale.min (${min}) to maxLanes (${maxLanes})`,
      );
    }
    const policy = options.policy;
    if (
      policy !== undefined &&
      typeof policy !== 'function' &&
      (policy === null || typeof policy !== 'object')
    ) {
      throw new InvalidOptionError(
        'autoscale.policy',
        policy,
        'a policy function or options for the default policy',
      );
    }
    this.policy = typeof policy === 'function' ? policy : defaultAutoscalePolicy(policy ?? {});
    this.running = options.enabled ?? true;
    this.min = min;
    this.max = max;
    pool.reportAutoscale(() => ({ paused: this.paused, min, max, decisions: this.decisions() }));
    this.cron = options.cron ?? '* * * * * *';
    if (typeof this.cron !== 'string' || this.cron.trim().length === 0) {
      throw new InvalidOptionError(
        'autoscale.cron',
        options.cron,
        "a cron expression with seconds, such as '*/5 * * * * *'",
      );
    }
  }

  get paused(): boolean {
    return !this.running;
  }

  /** Stops resizing; ticks still sample and record what they would have done. */
  pause(): void {
    this.running = false;
  }

  resume(): void {
    this.running = true;
  }

  /** Latest decisions, newest last. */
  decisions(): AutoscaleRecord[] {
    return [...this.records];
  }

  /** Takes a sample, decides, and resizes if the decision says so and scaling is on. */
  tick(now = Date.now()): AutoscaleRecord {
    const stats = this.pool.stats();
    const live = stats.lanes.filter((l) => !l.retiring);
    const capacity = live.reduce((n, l) => n + l.concurrency, 0);
    const since = this.last;
    this.last = { at: now, busyMs: stats.busyMs };
    // The first tick only sets the baseline: utilization needs two looks.
    if (since !== undefined && now > since.at) {
      const utilization = Math.min(
        1,
        (stats.busyMs - since.busyMs) / ((now - since.at) * capacity),
      );
      this.window.push({
        at: now,
        lanes: live.length,
        utilization,
        queued: stats.queued,
        oldestWaitMs: stats.oldestWaitMs,
      });
    }
    const horizon = now - (this.options.windowMs ?? 60_000);
    while (this.window.length > 0 && this.window[0].at < horizon) this.window.shift();

    const decision = this.policy({
      now,
      lanes: live.length,
      min: this.min,
      max: this.max,
      window: this.window,
      lastResizeAt: this.lastResizeAt,
    });
    const desired = Math.min(this.max, Math.max(this.min, Math.round(decision.desired)));
    // A staged start is left to finish its steps.
    const applied =
      this.running && this.pool.accepting && stats.state !== 'starting' && desired !== live.length;
    if (applied) {
      this.lastResizeAt = now;
      void this.pool.resize(desired);
    }
    const record: AutoscaleRecord = { ...decision, desired, at: now, applied };
    this.records.push(record);
    if (this.records.length > (this.options.history ?? 20)) this.records.shift();
    this.pool.publish({
      type: 'scaling-decision',
      direction: record.direction,
      desired: record.desired,
      applied: record.applied,
      reason: record.reason,
      inputs: record.inputs,
    });
    this.onDecision(record);
    return record;
  }
}

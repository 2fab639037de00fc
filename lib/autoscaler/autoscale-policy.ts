import { InvalidOptionError } from '../core/index.js';
import { MAX_LANES, checkKeys } from '../core/options.js';

/**
 * The autoscaler's brain: a pure function from a window of pool samples to a desired lane
 * count, with the reason and the inputs it used. No clock, no I/O: the caller passes `now`.
 */

/** One look at the pool, taken on an autoscaler tick. */
export interface PoolSample {
  /** When it was taken (ms, same clock as `now`). */
  at: number;
  /** Live lanes at that moment. */
  lanes: number;
  /** Busy lane-time / available lane-time since the previous sample, 0..1. */
  utilization: number;
  /** Tasks waiting in the pool. */
  queued: number;
  /** Age of the oldest waiting task, 0 when none waits. */
  oldestWaitMs: number;
}

export interface AutoscaleInput {
  now: number;
  /** Live lanes now. */
  lanes: number;
  min: number;
  max: number;
  /** Samples, oldest first. */
  window: readonly PoolSample[];
  /** When the autoscaler last changed the size; undefined if never. */
  lastResizeAt: number | undefined;
}

export interface AutoscaleDecision {
  desired: number;
  direction: 'up' | 'down' | 'hold';
  reason: string;
  inputs: {
    lanes: number;
    min: number;
    max: number;
    utilization: number;
    queuedPerLane: number;
    oldestWaitMs: number;
    samples: number;
  };
}

export type AutoscalePolicy = (input: AutoscaleInput) => AutoscaleDecision;

export interface DefaultAutoscalePolicyOptions {
  /** Utilization the policy steers to; above it the pool grows. Default 0.7. */
  targetUtilization?: number;
  /** Below this utilization, sustained, the pool shrinks. Default 0.35. */
  scaleDownBelow?: number;
  /** How long pressure must last, and how long since the last resize, before growing. Default 5_000 ms. */
  scaleUpDelayMs?: number;
  /** How long idleness must last, and how long since the last resize, before shrinking. Default 30_000 ms. */
  scaleDownDelayMs?: number;
  /** Queued tasks per lane above which the pool grows whatever the utilization. Default 20. */
  backlogPerLane?: number;
  /** Oldest wait above which the pool grows whatever the utilization. Default 1_000 ms. */
  maxWaitMs?: number;
  /** Most lanes added in one decision. Default 8. */
  maxStepUp?: number;
  /** Most lanes removed in one decision. Default 2. */
  maxStepDown?: number;
}

export const DEFAULT_AUTOSCALE_POLICY_OPTIONS: Required<DefaultAutoscalePolicyOptions> = {
  targetUtilization: 0.7,
  scaleDownBelow: 0.35,
  scaleUpDelayMs: 5_000,
  scaleDownDelayMs: 30_000,
  backlogPerLane: 20,
  maxWaitMs: 1_000,
  maxStepUp: 8,
  maxStepDown: 2,
};

/**
 * The default policy (NotifyHub's): grow when utilization stays above the target or a
 * backlog builds for `scaleUpDelayMs`; shrink when utilization stays below `scaleDownBelow`
 * with no backlog for `scaleDownDelayMs`. Steps aim at the target utilization, so a steady
 * load settles instead of flapping, and are bounded per decision.
 */
export function defaultAutoscalePolicy(
  options: DefaultAutoscalePolicyOptions = {},
  where = 'autoscale.policy',
): AutoscalePolicy {
  const o = checkPolicyOptions(options, where);
  return (input) => {
    const { now, lanes, min, max, window } = input;
    const last = window[window.length - 1];
    const inputs = {
      lanes,
      min,
      max,
      utilization: round(mean(window, now - o.scaleUpDelayMs)),
      queuedPerLane: last ? round(last.queued / Math.max(1, lanes)) : 0,
      oldestWaitMs: Math.round(last?.oldestWaitMs ?? 0),
      samples: window.length,
    };
    const decide = (desired: number, reason: string): AutoscaleDecision => ({
      desired,
      direction: desired > lanes ? 'up' : desired < lanes ? 'down' : 'hold',
      reason,
      inputs,
    });

    if (lanes < min) return decide(min, `below min (${min})`);
    if (lanes > max) return decide(max, `above max (${max})`);
    const sinceResize = input.lastResizeAt === undefined ? Infinity : now - input.lastResizeAt;
    const backlogged = (s: PoolSample) =>
      s.queued / Math.max(1, s.lanes) > o.backlogPerLane || s.oldestWaitMs > o.maxWaitMs;

    const upWindow = span(window, now, o.scaleUpDelayMs);
    if (
      upWindow !== undefined &&
      lanes < max &&
      upWindow.every((s) => s.utilization > o.targetUtilization || backlogged(s))
    ) {
      if (sinceResize < o.scaleUpDelayMs)
        return decide(lanes, 'under pressure, in scale-up cooldown');
      const byUtilization = Math.ceil((lanes * mean(upWindow)) / o.targetUtilization);
      const byBacklog = Math.ceil(last.queued / o.backlogPerLane);
      const desired = clamp(
        Math.max(byUtilization, byBacklog, lanes + 1),
        lanes + 1,
        Math.min(max, lanes + o.maxStepUp),
      );
      const why = upWindow.every((s) => s.utilization > o.targetUtilization)
        ? `utilization ${inputs.utilization} above ${o.targetUtilization} for ${o.scaleUpDelayMs} ms`
        : `backlog (${inputs.queuedPerLane} queued per lane, oldest ${inputs.oldestWaitMs} ms) for ${o.scaleUpDelayMs} ms`;
      return decide(desired, why);
    }

    const downWindow = span(window, now, o.scaleDownDelayMs);
    if (
      downWindow !== undefined &&
      lanes > min &&
      downWindow.every((s) => s.utilization < o.scaleDownBelow && !backlogged(s))
    ) {
      if (sinceResize < o.scaleDownDelayMs) return decide(lanes, 'idle, in scale-down cooldown');
      const u = mean(downWindow);
      const desired = clamp(
        Math.ceil((lanes * u) / o.targetUtilization),
        Math.max(min, lanes - o.maxStepDown),
        lanes - 1,
      );
      return decide(
        desired,
        `utilization ${round(u)} below ${o.scaleDownBelow} for ${o.scaleDownDelayMs} ms`,
      );
    }
    return decide(lanes, 'within bounds');
  };
}

/** The samples of the last `ms`, if the window reaches back that far; else undefined. */
function span(window: readonly PoolSample[], now: number, ms: number): PoolSample[] | undefined {
  if (window.length === 0 || window[0].at > now - ms) return undefined;
  const recent = window.filter((s) => s.at >= now - ms);
  return recent.length === 0 ? undefined : recent;
}

function mean(window: readonly PoolSample[], since = -Infinity): number {
  const xs = window.filter((s) => s.at >= since);
  return xs.length === 0 ? 0 : xs.reduce((a, s) => a + s.utilization, 0) / xs.length;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function checkPolicyOptions(
  options: DefaultAutoscalePolicyOptions,
  where: string,
): Required<DefaultAutoscalePolicyOptions> {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError(where, options, 'an object such as { targetUtilization: 0.7 }');
  }
  checkKeys(options, Object.keys(DEFAULT_AUTOSCALE_POLICY_OPTIONS), `${where}.`);
  const o = { ...DEFAULT_AUTOSCALE_POLICY_OPTIONS, ...options };
  const fail = (key: keyof DefaultAutoscalePolicyOptions, allowed: string) => {
    throw new InvalidOptionError(`${where}.${key}`, o[key], allowed);
  };
  const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (!num(o.targetUtilization) || o.targetUtilization <= 0 || o.targetUtilization > 1)
    fail('targetUtilization', 'a number in (0, 1]');
  if (!num(o.scaleDownBelow) || o.scaleDownBelow < 0 || o.scaleDownBelow >= o.targetUtilization) {
    fail('scaleDownBelow', `a number from 0 to below targetUtilization (${o.targetUtilization})`);
  }
  for (const key of ['scaleUpDelayMs', 'scaleDownDelayMs'] as const) {
    if (!num(o[key]) || o[key] < 0) fail(key, 'a number of milliseconds >= 0');
  }
  for (const key of ['backlogPerLane', 'maxWaitMs'] as const) {
    if (!num(o[key]) || o[key] <= 0) fail(key, 'a number > 0');
  }
  for (const key of ['maxStepUp', 'maxStepDown'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1 || o[key] > MAX_LANES)
      fail(key, `an integer from 1 to ${MAX_LANES}`);
  }
  return o;
}

import type { AutoscalePolicy, DefaultAutoscalePolicyOptions } from './autoscale-policy.js';

export interface AutoscaleOptions {
  /** Fewest lanes the autoscaler shrinks to. */
  min: number;
  /** Most lanes the autoscaler grows to (at most the pool's `maxLanes`). */
  max: number;
  /** When to check, as a cron expression with seconds. Default: every second ('* * * * * *'). */
  cron?: string;
  /** Start with scaling on. Pause and resume at runtime with `Autoscaler`. Default: true. */
  enabled?: boolean;
  /** Your own policy, or settings for the default one. Default: `defaultAutoscalePolicy()`. */
  policy?: AutoscalePolicy | DefaultAutoscalePolicyOptions;
  /** Decisions kept for `stats()`. Default: 20. */
  history?: number;
  /** How far back samples are kept for the policy. Default: 60_000 ms. */
  windowMs?: number;
}

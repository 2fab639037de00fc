import { InvalidOptionError } from './errors.js';
import type { TaskContext } from './task.js';

export interface RetryOptions {
  /** Runs in all, the first included. Default 1 (no retry). */
  attempts?: number;
  /** Delay before the first retry (ms). Default 100. */
  delayMs?: number;
  /** Each further retry waits `factor` times longer. Default 2. */
  factor?: number;
  /** Cap of one delay (ms). Default 30_000. */
  maxDelayMs?: number;
  /** Full jitter: wait a random time up to the computed delay, so retries do not herd. Default true. */
  jitter?: boolean;
  /** Which errors are worth retrying. Default: all. */
  retryIf?: (error: unknown, ctx: TaskContext) => boolean;
}

/** Per handler (`@TaskHandler` options) and per task (submit options); the task's win. */
export interface TaskPolicyOptions {
  /** A number is the total attempts with the default backoff. */
  retry?: RetryOptions | number;
  /**
   * After this long an attempt times out: `ctx.signal` aborts and the attempt fails with
   * `TaskTimeoutError` at once (retried if the retry policy says so). Default: none.
   */
  timeoutMs?: number;
  /**
   * By default a timed-out handler that keeps running still holds its session: the next task
   * of the session starts only once it has really returned. `true` lets the next one start at
   * the timeout, overlapping the late handler. Default: false.
   */
  overlapOnTimeout?: boolean;
  /**
   * Higher runs sooner among the sessions and unkeyed tasks waiting on a lane (default 0).
   * It never reorders the tasks of one session, and lower priorities still get a turn after
   * 16 takes from above (see docs/policies.md, Priority).
   */
  priority?: number;
}

export interface TaskPolicy {
  readonly attempts: number;
  readonly delayMs: number;
  readonly factor: number;
  readonly maxDelayMs: number;
  readonly jitter: boolean;
  readonly retryIf: ((error: unknown, ctx: TaskContext) => boolean) | undefined;
  readonly timeoutMs: number | undefined;
  readonly overlapOnTimeout: boolean;
  readonly priority: number;
}

export const DEFAULT_TASK_POLICY: TaskPolicy = Object.freeze({
  attempts: 1,
  delayMs: 100,
  factor: 2,
  maxDelayMs: 30_000,
  jitter: true,
  retryIf: undefined,
  timeoutMs: undefined,
  overlapOnTimeout: false,
  priority: 0,
});

const RETRY_KEYS = ['attempts', 'delayMs', 'factor', 'maxDelayMs', 'jitter', 'retryIf'];

/** `base` with `options` applied; `where` prefixes option names in errors ("retry", "@TaskHandler retry"). */
export function resolveTaskPolicy(
  base: TaskPolicy,
  options: TaskPolicyOptions | undefined,
  where = 'retry',
): TaskPolicy {
  if (options === undefined) return base;
  const { timeoutMs, overlapOnTimeout, priority } = options;
  const name = (key: string) => where.replace(/retry/, key);
  if (
    timeoutMs !== undefined &&
    !(typeof timeoutMs === 'number' && timeoutMs > 0 && timeoutMs < 2 ** 31)
  ) {
    throw new InvalidOptionError(
      name('timeoutMs'),
      timeoutMs,
      'a number of milliseconds > 0 (below 2^31)',
    );
  }
  if (overlapOnTimeout !== undefined && typeof overlapOnTimeout !== 'boolean') {
    throw new InvalidOptionError(name('overlapOnTimeout'), overlapOnTimeout, 'true or false');
  }
  if (priority !== undefined && !(Number.isInteger(priority) && Math.abs(priority) <= 1_000)) {
    throw new InvalidOptionError(
      name('priority'),
      priority,
      'an integer from -1000 to 1000 (higher runs sooner)',
    );
  }
  if (timeoutMs !== undefined || overlapOnTimeout !== undefined || priority !== undefined) {
    base = Object.freeze({
      ...base,
      timeoutMs: timeoutMs ?? base.timeoutMs,
      overlapOnTimeout: overlapOnTimeout ?? base.overlapOnTimeout,
      priority: priority ?? base.priority,
    });
  }
  if (options.retry === undefined) return base;
  const retry = typeof options.retry === 'number' ? { attempts: options.retry } : options.retry;
  if (retry === null || typeof retry !== 'object') {
    throw new InvalidOptionError(
      where,
      retry,
      'a number of attempts or an object such as { attempts: 3, delayMs: 200 }',
    );
  }
  const p = {
    ...base,
    ...Object.fromEntries(Object.entries(retry).filter(([, v]) => v !== undefined)),
  } as TaskPolicy;
  for (const key of Object.keys(retry)) {
    if (!RETRY_KEYS.includes(key)) {
      throw new InvalidOptionError(
        `${where}.${key}`,
        (retry as Record<string, unknown>)[key],
        `no such option; known: ${RETRY_KEYS.join(', ')}`,
      );
    }
  }
  if (!Number.isInteger(p.attempts) || p.attempts < 1 || p.attempts > Number.MAX_SAFE_INTEGER) {
    throw new InvalidOptionError(
      `${where}.attempts`,
      p.attempts,
      `an integer from 1 to ${Number.MAX_SAFE_INTEGER}`,
    );
  }
  if (!(typeof p.delayMs === 'number' && p.delayMs >= 0 && p.delayMs < 2 ** 31))
    throw new InvalidOptionError(
      `${where}.delayMs`,
      p.delayMs,
      'a number of milliseconds >= 0 and below 2^31',
    );
  if (!(p.factor >= 1 && p.factor < Infinity))
    throw new InvalidOptionError(`${where}.factor`, p.factor, 'a finite number >= 1');
  if (!(typeof p.maxDelayMs === 'number' && p.maxDelayMs >= p.delayMs && p.maxDelayMs < 2 ** 31)) {
    throw new InvalidOptionError(
      `${where}.maxDelayMs`,
      p.maxDelayMs,
      `a number of milliseconds >= delayMs (${p.delayMs}) and below 2^31`,
    );
  }
  if (typeof p.jitter !== 'boolean')
    throw new InvalidOptionError(`${where}.jitter`, p.jitter, 'true or false');
  if (p.retryIf !== undefined && typeof p.retryIf !== 'function') {
    throw new InvalidOptionError(
      `${where}.retryIf`,
      p.retryIf,
      'a function (error, ctx) => boolean',
    );
  }
  return Object.freeze(p);
}

/** Wait before the retry that follows failed attempt `attempt` (1-based). */
export function backoffDelay(
  policy: TaskPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exact = Math.min(policy.maxDelayMs, policy.delayMs * policy.factor ** (attempt - 1));
  return policy.jitter ? Math.floor(random() * exact) : exact;
}

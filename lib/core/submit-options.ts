import type { ContextMode } from './async-context.js';
import type { BatchOptions } from './batch.js';
import { InvalidOptionError } from './errors.js';
import { checkKeys } from './options.js';
import type { RateLimit } from './rate-limiter.js';
import type { TaskContext, TaskOutcome } from './task.js';
import type { TaskPolicyOptions } from './task-policy.js';

/** How a handler is registered: where it comes from (for errors) and its default policy. */
export interface HandlerRegistration extends TaskPolicyOptions {
  origin?: string;
  /** At most `tasks` starts of this type per `intervalMs`; other types are not held up. */
  rateLimit?: RateLimit;
  /** Makes it a batch handler: `(items, batchCtx)`, see `BatchHandlerFn`. */
  batch?: BatchOptions;
  /**
   * The async context its handler, ctx.signal listeners and callbacks run in: 'caller' (the
   * call that submitted the task: its AsyncLocalStorage stores, its trace) or 'none' (the
   * pool's own, where no caller's stores are set; saves a capture per task). Default: the
   * pool's `context` option, itself 'caller' by default.
   */
  context?: ContextMode;
  /**
   * For a handler that runs its task somewhere else (a proxy; thread lanes use it): called
   * once per attempt, synchronously, when a running task is told to stop (its timeout, its
   * caller's signal, the drain deadline), just after its ctx.signal aborts, so the stop can
   * be passed on. A handler running here reads ctx.signal instead. What it throws is
   * rethrown on a microtask (an uncaught exception), as an event listener's would be.
   * `registerHandler` only, not a `@TaskHandler` option.
   */
  onAbort?: (ctx: TaskContext, reason: unknown) => void;
}

/** What a handler registration (and `@TaskHandler`) accepts beside where it comes from. */
export const HANDLER_OPTION_KEYS: readonly string[] = [
  'retry',
  'timeoutMs',
  'overlapOnTimeout',
  'priority',
  'rateLimit',
  'batch',
  'context',
];

/** One task of `submitMany`. */
export interface BatchTask {
  type: string;
  payload: unknown;
  options?: SubmitOptions;
}

export interface DrainOptions {
  /**
   * After the deadline, how long handlers still running get (their ctx.signal is aborted)
   * before the pool abandons them: their callers get `TaskAbandonedError` and the drain
   * resolves. Default 5_000 ms; Infinity waits for them forever.
   */
  graceMs?: number;
}

export interface SubmitOptions extends TaskPolicyOptions {
  /** Tasks of one session run one at a time, in submission order. Omit for unordered work. */
  sessionId?: string;
  /**
   * Stops waiting for queue room, withdraws the task before it starts, or aborts ctx.signal
   * once it runs.
   */
  signal?: AbortSignal;
  /**
   * Called once, synchronously, as the task settles (before its session's next task can
   * start), with its outcome and its value or error. A throwing callback is reported to
   * onUnhandledFailure.
   */
  onSettled?: (outcome: TaskOutcome, value: unknown) => void;
}

/** What `submit` accepts; checked when no sessionId is given, where a typo would drop the ordering. */
const SUBMIT_OPTION_KEYS = [
  'sessionId',
  'signal',
  'onSettled',
  'retry',
  'timeoutMs',
  'overlapOnTimeout',
  'priority',
];

/** Throws `InvalidOptionError` for the first bad submit option. */
export function checkSubmitOptions(options: SubmitOptions): void {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError(
      'options',
      options,
      'an object such as { sessionId: "conversation-1" }',
    );
  }
  const { sessionId, signal, onSettled } = options;
  // A misspelt sessionId would silently drop the ordering promise: check keys then.
  if (sessionId === undefined) checkKeys(options, SUBMIT_OPTION_KEYS);
  if (onSettled !== undefined && typeof onSettled !== 'function') {
    throw new InvalidOptionError('onSettled', onSettled, 'a function (outcome, value) => void');
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidOptionError(
      'signal',
      signal,
      'an AbortSignal (from an AbortController), or undefined',
    );
  }
  if (sessionId !== undefined && (typeof sessionId !== 'string' || sessionId.length === 0)) {
    throw new InvalidOptionError(
      'sessionId',
      sessionId,
      'a non-empty string (convert numeric ids with String(id)), or undefined',
    );
  }
}

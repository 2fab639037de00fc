import type { ContextMode } from '../core/async-context.js';
import type { BatchOptions } from '../core/batch.js';
import type { RateLimit } from '../core/rate-limiter.js';
import type { TaskPolicyOptions } from '../core/task-policy.js';

/** Handler defaults; `submit` options override them per task. */
export interface TaskHandlerOptions extends TaskPolicyOptions {
  /** The pool whose tasks of this type the method handles. Default: 'default'. */
  pool?: string;
  /** At most `tasks` starts of this type per `intervalMs` (a token bucket); other types go on. */
  rateLimit?: RateLimit;
  /**
   * Makes the method a batch handler: it receives `(items: BatchItem[], ctx: BatchContext)`
   * with up to `maxSize` tasks (one per session), gathered for at most `maxWaitMs`.
   */
  batch?: BatchOptions;
  /**
   * The async context the method runs in: 'caller' (the call that submitted the task, so
   * nestjs-cls's ClsService and OpenTelemetry read that request's values) or 'none' (the
   * pool's own). Default: the pool's `context` option, 'caller' unless set.
   */
  context?: ContextMode;
}

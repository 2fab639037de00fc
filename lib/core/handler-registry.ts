import { CONTEXT_MODES, type ContextMode } from './async-context.js';
import { DuplicateHandlerError, InvalidOptionError, UnknownTaskTypeError } from './errors.js';
import { type BatchOptions, checkBatchOptions } from './batch.js';
import { checkKeys } from './options.js';
import type { SelfWaitCheck } from './self-wait.js';
import { checkRateLimit, type RateLimiter } from './rate-limiter.js';
import type { RateLimits } from './rate-limits.js';
import { HANDLER_OPTION_KEYS, type HandlerRegistration } from './submit-options.js';
import type { LatencyRecorder } from './latency.js';
import type { TaskContext, TaskHandlerFn } from './task.js';
import { DEFAULT_TASK_POLICY, type TaskPolicy, resolveTaskPolicy } from './task-policy.js';

/** Outcomes of one task type, counted on its handler entry so a task pays no map lookup. */
export interface TypeCounts {
  accepted: number;
  completed: number;
  failed: number;
  timedOut: number;
  cancelled: number;
  /** Calls of a batch handler (its tasks are counted one by one above). */
  batches?: number;
}

export interface HandlerEntry {
  readonly type: string;
  readonly fn: TaskHandlerFn;
  /** Where the handler comes from, for error messages ("ChatHandlers.onMessage"). */
  readonly origin: string;
  readonly counts: TypeCounts;
  readonly policy: TaskPolicy;
  /** The type's rate limit, if it has one (see RateLimiter). */
  limiter?: RateLimiter<any>;
  /** Set for a batch handler: its fn takes (items, batchCtx). */
  batch?: BatchOptions;
  /** Created on the type's first timed task. */
  latency?: LatencyRecorder;
  /** See HandlerRegistration.onAbort. */
  readonly onAbort?: (ctx: TaskContext, reason: unknown) => void;
  /** Its tasks capture their caller's async context (context: 'caller'). */
  readonly captures: boolean;
  /** The pool's SelfWaitCheck, which each handler call enters (checkSelfWait). */
  readonly selfWait: SelfWaitCheck | undefined;
}

const NONE = Symbol('no type looked up yet');

/** Task type -> handler. One handler per type; lookups on the hot path are a Map get. */
export class HandlerRegistry {
  private readonly handlers = new Map<string, HandlerEntry>();

  /**
   * `limits` makes the rate limiter of a type registered with a `rateLimit`; `context` is the
   * pool's default for handlers that do not choose.
   */
  constructor(
    private readonly limits: RateLimits,
    private readonly context: ContextMode = 'caller',
    private readonly selfWait: SelfWaitCheck | undefined = undefined,
  ) {}
  /** The last type looked up: a run of one type skips the Map (entries are never removed). */
  private lastType: unknown = NONE; // equal to no type a caller can pass
  private lastEntry: HandlerEntry | undefined = undefined;

  /** `options` may be just the origin, as a string, for error messages. */
  register(type: string, fn: TaskHandlerFn, options?: string | HandlerRegistration): HandlerEntry {
    // First: the messages below name the type.
    if (typeof type !== 'string' || type.length === 0) {
      throw new InvalidOptionError('type', type, 'a non-empty string naming the task type');
    }
    const o = typeof options === 'string' ? { origin: options } : options;
    if (o !== undefined) {
      if (o === null || typeof o !== 'object') {
        throw new InvalidOptionError(
          'options',
          o,
          'an object such as { retry: 3 }, or an origin string',
        );
      }
      checkKeys(o, ['origin', 'onAbort', ...HANDLER_OPTION_KEYS]);
      if (o.onAbort !== undefined && typeof o.onAbort !== 'function')
        throw new InvalidOptionError('onAbort', o.onAbort, 'a function (ctx, reason) => void');
    }
    const rateLimit = checkRateLimit(`rateLimit of "${type}"`, o?.rateLimit);
    const batch = checkBatchOptions(type, o?.batch);
    const context = o?.context ?? this.context;
    if (!CONTEXT_MODES.includes(context))
      throw new InvalidOptionError(`context of "${type}"`, context, `'caller' or 'none'`);
    const origin = o?.origin ?? 'anonymous handler';
    if (typeof fn !== 'function') {
      throw new InvalidOptionError('handler', fn, `a function for task type "${type}"`);
    }
    const existing = this.handlers.get(type);
    if (existing) throw new DuplicateHandlerError(type, existing.origin, origin);
    const policy = resolveTaskPolicy(DEFAULT_TASK_POLICY, o, `retry of "${type}"`);
    const counts: TypeCounts = { accepted: 0, completed: 0, failed: 0, timedOut: 0, cancelled: 0 };
    if (batch !== undefined) counts.batches = 0; // only batch types report calls
    const entry: HandlerEntry = {
      type,
      fn,
      origin,
      policy,
      counts,
      // Every field present from the start so that every entry keeps one shape (hot-path loads
      // stay monomorphic); the limiter is made only once the registration is known to be valid.
      limiter: rateLimit === undefined ? undefined : this.limits.create(rateLimit),
      batch,
      latency: undefined,
      onAbort: o?.onAbort,
      // A batch handler serves many callers: it runs in the pool's context, each item enters
      // its own caller's with item.run (see BatchItem).
      captures: context === 'caller',
      selfWait: this.selfWait,
    };
    this.handlers.set(type, entry);
    return entry;
  }

  get(type: string): HandlerEntry {
    if (type === this.lastType) return this.lastEntry!;
    const entry = this.handlers.get(type);
    if (entry === undefined) throw new UnknownTaskTypeError(String(type), this.types());
    this.lastType = type;
    this.lastEntry = entry;
    return entry;
  }

  entries(): IterableIterator<HandlerEntry> {
    return this.handlers.values();
  }

  types(): string[] {
    return [...this.handlers.keys()];
  }
}

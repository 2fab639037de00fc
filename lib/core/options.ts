import { CONTEXT_MODES, type ContextMode } from './async-context.js';
import { type EventSubscriberError, InvalidOptionError } from './errors.js';
import { CHEAP_ASYNC_CONTEXT } from './self-wait.js';
import { type TaskInstrument, isInstrument } from './instrument.js';
import { type RateLimit, checkRateLimit } from './rate-limiter.js';
import { PLACEMENT_KINDS, type PlacementKind } from './placement/session-placement.js';

/** Hard ceiling for `maxLanes` (the slot table then has 2^22 slots, 32 MB). */
export const MAX_LANES = 65_536;

/** Largest `balanceFactor`: past it 'bounded' placement is the plain ring for any real load. */
export const MAX_BALANCE_FACTOR = 100;

/**
 * Options that no longer exist, with what to do instead: refused by name rather than
 * reported as unknown (or, worse, ignored), so an upgrade says what changed.
 */
export const REMOVED_POOL_OPTIONS: Readonly<Record<string, string>> = {
  virtualNodes:
    'no value: the option was removed, since sessions are placed through a slot table that ' +
    'spreads ids evenly with nothing to tune (see docs/placement.md); delete virtualNodes from the options',
};

/** Most tasks one lane runs at once. */
export const MAX_LANE_CONCURRENCY = 2 ** 20;

/** Bound of counts that have no natural one (queue sizes, attempts): exact integers. */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER;

/** Longest delay a Node timer honours; a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/*
 * The option checks every layer uses (core, threads, cluster, autoscale, Nest): each throws
 * InvalidOptionError naming the option, its value and what is allowed. They live here, and
 * only here; the public index exports none of them.
 */

/**
 * Throws `InvalidOptionError` unless `value` is an object (`example` shows one) whose keys
 * are all in `known`; an unknown key is named as `prefix + key`.
 */
export function checkObject(
  name: string,
  value: unknown,
  example: string,
  known: readonly string[],
  prefix = `${name}.`,
  removed: Readonly<Record<string, string>> = {},
): asserts value is object {
  if (value === null || typeof value !== 'object')
    throw new InvalidOptionError(name, value, example);
  checkKeys(value, known, prefix, removed);
}

/**
 * Throws `InvalidOptionError` for the first key of `options` not in `known`; a key of
 * `removed` is refused with what to do instead.
 */
export function checkKeys(
  options: object,
  known: readonly string[],
  prefix = '',
  removed: Readonly<Record<string, string>> = {},
): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new InvalidOptionError(
        prefix + key,
        (options as Record<string, unknown>)[key],
        Object.hasOwn(removed, key)
          ? removed[key]
          : `no such option; known options: ${known.join(', ')}`,
      );
    }
  }
}

/** A delay in ms that a timer can honour: 0 to MAX_TIMER_MS, or Infinity if allowed. */
export function checkDelay(name: string, value: unknown, infinity: boolean): void {
  const ok =
    typeof value === 'number' &&
    value >= 0 &&
    (value <= MAX_TIMER_MS || (infinity && value === Infinity));
  if (!ok) {
    throw new InvalidOptionError(
      name,
      value,
      `a number of milliseconds from 0 to ${MAX_TIMER_MS} (about 24.8 days)${infinity ? ', or Infinity' : ''}`,
    );
  }
}

export type WhenFull = 'reject' | 'wait';

/** Options of one pool. Every field is optional; defaults are listed per field. */
export interface PoolOptions {
  /** Lanes at start. Default 4. */
  lanes?: number;
  /** Upper bound for `resize` / `addLane`. Default 256. */
  maxLanes?: number;
  /** Tasks one lane runs at once, each from a different session. Default 1. */
  laneConcurrency?: number;
  /** Most tasks waiting in the whole pool (running ones not counted). Default 100_000. */
  maxQueued?: number;
  /** Most tasks waiting in one session. Default 10_000. */
  maxQueuedPerSession?: number;
  /** When a queue is full: throw `QueueFullError` ('reject', default) or wait for room ('wait'). */
  whenFull?: WhenFull;
  /**
   * Time one task in this many (by task id) for the wait / run histograms in `stats()`:
   * timing costs clock reads, so it is sampled. 1 times every task, 0 none. Default 32.
   */
  latencySampleEvery?: number;
  /**
   * Where tasks without a session go: the lane with the least work ('least-loaded', default)
   * or each lane in turn ('round-robin').
   */
  unkeyedPlacement?: 'least-loaded' | 'round-robin';
  /**
   * Let a lane that runs out of work take a waiting unkeyed task from a busy lane (work
   * stealing), so no unkeyed task waits behind a busy lane while another is idle. Keyed
   * tasks never move this way. Off while a pool-wide rate limit is set. Default: true.
   */
  stealUnkeyed?: boolean;
  /**
   * When an active session may move to the lane `placement` now gives it, after the lanes
   * changed (a resize, the autoscaler, a lane removed).
   * 'between-tasks' (default for in-process lanes): once, when one of its tasks settles and
   * more are queued, so lanes added under a backlog take their share of busy sessions.
   * Nothing of the session runs at that moment, so order and exclusion hold either way.
   * 'when-idle' (default with thread lanes, where a session's warm state lives in its
   * thread): only once it is idle (or its lane is removed), so it keeps its lane, and any
   * state the lane holds for it, while it has work.
   */
  rebalance?: 'when-idle' | 'between-tasks';
  /**
   * Start the lanes in steps, so that many lanes whose handlers open connections do not all
   * start at once: `lanesPerStep` lanes at start, then as many more every `delayMs` until
   * `lanes`. Work is accepted from the start; `stats().state` is 'starting' meanwhile.
   * A resize during the steps ends them. Default: all lanes at once.
   */
  stagedStart?: { lanesPerStep: number; delayMs: number };
  /** At most `tasks` task starts per `intervalMs` across the pool (a token bucket). Default: none. */
  rateLimit?: RateLimit;
  /**
   * The async context handlers and their callers' callbacks run in. 'caller' (default): the
   * context of the call that submitted the task, so AsyncLocalStorage stores (nestjs-cls,
   * OpenTelemetry, a logger's request id) read as the caller left them, never another
   * caller's. 'none': the pool's own context, with no caller's stores, for handlers that read
   * none (saves a capture per task). A handler's own `context` option overrides it.
   */
  context?: ContextMode;
  /**
   * Refuse, with SelfWaitError, a handler's `submit` to its own session and its removal of
   * the lane it runs on: both would wait for the handler itself, forever. Default: on with
   * Node 24+, where the check costs little; off on Node 20 and 22, where it needs async
   * hooks on every promise (turn it on there when nestjs-cls or OpenTelemetry has already).
   */
  checkSelfWait?: boolean;
  /**
   * Called around each attempt of each task, for tracing: `tracePoolTasks()` from
   * `nest-worker-pool/opentelemetry` makes one that opens an OpenTelemetry span per attempt,
   * a child of the submitter's span (see docs/tracing.md). Default: none (nothing is called).
   */
  instrument?: TaskInstrument;
  /**
   * Where a session goes when it becomes active (see docs/placement.md). 'least-loaded'
   * (default; thread lanes default to 'ring'): the lane with the fewest outstanding tasks.
   * 'ring': its consistent-hash owner. 'bounded': the first lane in its hash order whose load
   * stays within ceil((1 + balanceFactor) x mean). Whichever: a session with queued or
   * running work keeps its lane.
   */
  placement?: PlacementKind;
  /** `e` of 'bounded' placement: a lane takes at most ceil((1 + e) x mean) load. Default 0.25. */
  balanceFactor?: number;
  /**
   * Called when a task that nobody awaits (accepted with `enqueue`) fails, so no failure
   * goes unseen. Default: `console.error`.
   */
  onUnhandledFailure?: (
    error: unknown,
    task: { taskId: number; type: string; sessionId?: string },
  ) => void;
  /**
   * Receives what an `events$` subscriber threw (or an operator of its pipe, when the
   * subscriber has no error callback), wrapped in an `EventSubscriberError`, instead of
   * rxjs rethrowing it on a timer (which ends the process). The pool and the other
   * subscribers go on either way. Default: `console.error`.
   */
  onSubscriberError?: (error: EventSubscriberError) => void;
  /**
   * Receives a task that failed after using up a retry policy (attempts > 1), with its last
   * error: the place to park it for inspection. Its caller is rejected as usual. Default: none.
   */
  onDeadLetter?: (
    error: unknown,
    task: { taskId: number; type: string; sessionId?: string; attempts: number; payload: unknown },
  ) => void;
}

export type ResolvedPoolOptions = Required<
  Omit<PoolOptions, 'rateLimit' | 'stagedStart' | 'instrument'>
> & {
  rateLimit: RateLimit | undefined;
  instrument: TaskInstrument | undefined;
  stagedStart: { lanesPerStep: number; delayMs: number } | undefined;
};

export const DEFAULT_POOL_OPTIONS: ResolvedPoolOptions = {
  lanes: 4,
  maxLanes: 256,
  laneConcurrency: 1,
  maxQueued: 100_000,
  maxQueuedPerSession: 10_000,
  whenFull: 'reject',
  placement: 'least-loaded',
  balanceFactor: 0.25,
  latencySampleEvery: 32,
  rateLimit: undefined,
  stagedStart: undefined,
  unkeyedPlacement: 'least-loaded',
  stealUnkeyed: true,
  rebalance: 'between-tasks',
  context: 'caller',
  checkSelfWait: CHEAP_ASYNC_CONTEXT,
  instrument: undefined,
  onUnhandledFailure: (error, task) =>
    console.error(`[worker-pool] task ${task.taskId} (${task.type}) failed:`, error),
  onDeadLetter: () => undefined,
  onSubscriberError: (error) => console.error(`[worker-pool] ${error.message}`, error.cause),
};

export const POOL_OPTION_KEYS: readonly string[] = Object.keys(DEFAULT_POOL_OPTIONS);

/** Fills defaults and throws `InvalidOptionError` naming the first bad value. */
export function resolvePoolOptions(options: PoolOptions = {}): ResolvedPoolOptions {
  checkObject('options', options, 'an object', POOL_OPTION_KEYS, '', REMOVED_POOL_OPTIONS);
  const o = { ...DEFAULT_POOL_OPTIONS, ...stripUndefined(options) };
  positiveInt('maxLanes', o.maxLanes);
  if (o.maxLanes > MAX_LANES) {
    throw new InvalidOptionError('maxLanes', o.maxLanes, `an integer from 1 to ${MAX_LANES}`);
  }
  positiveInt('lanes', o.lanes);
  if (o.lanes > o.maxLanes) {
    throw new InvalidOptionError('lanes', o.lanes, `an integer from 1 to maxLanes (${o.maxLanes})`);
  }
  intInRange('laneConcurrency', o.laneConcurrency, 1, MAX_LANE_CONCURRENCY);
  positiveIntOrInfinity('maxQueued', o.maxQueued);
  positiveIntOrInfinity('maxQueuedPerSession', o.maxQueuedPerSession);
  if (
    !Number.isInteger(o.latencySampleEvery) ||
    o.latencySampleEvery < 0 ||
    o.latencySampleEvery > MAX_COUNT
  ) {
    throw new InvalidOptionError(
      'latencySampleEvery',
      o.latencySampleEvery,
      `an integer from 0 to ${MAX_COUNT} (0: off, 1: every task)`,
    );
  }
  if (o.unkeyedPlacement !== 'least-loaded' && o.unkeyedPlacement !== 'round-robin') {
    throw new InvalidOptionError(
      'unkeyedPlacement',
      o.unkeyedPlacement,
      `'least-loaded' or 'round-robin'`,
    );
  }
  checkRateLimit('rateLimit', o.rateLimit);
  if (o.stagedStart !== undefined) {
    const st = o.stagedStart;
    checkObject('stagedStart', st, 'an object { lanesPerStep, delayMs }', [
      'lanesPerStep',
      'delayMs',
    ]);
    intInRange('stagedStart.lanesPerStep', st.lanesPerStep, 1, MAX_LANES);
    checkDelay('stagedStart.delayMs', st.delayMs, false);
  }
  if (!PLACEMENT_KINDS.includes(o.placement)) {
    throw new InvalidOptionError('placement', o.placement, `'ring', 'bounded' or 'least-loaded'`);
  }
  if (
    typeof o.balanceFactor !== 'number' ||
    !(o.balanceFactor >= 0 && o.balanceFactor <= MAX_BALANCE_FACTOR)
  ) {
    throw new InvalidOptionError(
      'balanceFactor',
      o.balanceFactor,
      `a number from 0 to ${MAX_BALANCE_FACTOR} (0.25: a lane takes at most 1.25 x the mean load)`,
    );
  }
  if (o.rebalance !== 'when-idle' && o.rebalance !== 'between-tasks') {
    throw new InvalidOptionError('rebalance', o.rebalance, `'when-idle' or 'between-tasks'`);
  }
  if (!CONTEXT_MODES.includes(o.context))
    throw new InvalidOptionError('context', o.context, `'caller' or 'none'`);
  if (typeof o.checkSelfWait !== 'boolean')
    throw new InvalidOptionError('checkSelfWait', o.checkSelfWait, 'true or false');
  if (o.instrument !== undefined && !isInstrument(o.instrument)) {
    throw new InvalidOptionError(
      'instrument',
      o.instrument,
      'an object with start, run and end methods, such as tracePoolTasks() from nest-worker-pool/opentelemetry',
    );
  }
  if (typeof o.stealUnkeyed !== 'boolean')
    throw new InvalidOptionError('stealUnkeyed', o.stealUnkeyed, 'true or false');
  if (o.whenFull !== 'reject' && o.whenFull !== 'wait') {
    throw new InvalidOptionError('whenFull', o.whenFull, `'reject' or 'wait'`);
  }
  if (typeof o.onDeadLetter !== 'function') {
    throw new InvalidOptionError('onDeadLetter', o.onDeadLetter, 'a function');
  }
  if (typeof o.onSubscriberError !== 'function') {
    throw new InvalidOptionError('onSubscriberError', o.onSubscriberError, 'a function');
  }
  if (typeof o.onUnhandledFailure !== 'function') {
    throw new InvalidOptionError('onUnhandledFailure', o.onUnhandledFailure, 'a function');
  }
  return o;
}

/** Throws `InvalidOptionError` unless `value` is an integer >= 1. */
export function positiveInt(name: string, value: unknown): void {
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new InvalidOptionError(name, value, 'an integer >= 1');
  }
}

/** Returns `value` if it is an integer from `min` to `max`, else throws `InvalidOptionError`. */
export function intInRange(name: string, value: unknown, min: number, max: number): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new InvalidOptionError(name, value, `an integer from ${min} to ${max}`);
  }
  return value as number;
}

function positiveIntOrInfinity(name: string, value: unknown): void {
  if (
    value !== Infinity &&
    (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_COUNT)
  ) {
    throw new InvalidOptionError(name, value, `an integer from 1 to ${MAX_COUNT}, or Infinity`);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

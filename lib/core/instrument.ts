import { TaskCancelledError, TaskTimeoutError } from './errors.js';
import type { Task, TaskContext } from './task.js';

/**
 * The seam that tracing plugs into (`nest-worker-pool/opentelemetry` makes one): the engine
 * calls a pool's instrument around each attempt of each task, and imports no tracing
 * library itself. With no instrument set a run pays one undefined check.
 *
 * Invariant: every attempt the engine `start`s it `end`s exactly once (completed, failed,
 * timed out, cancelled, or abandoned by a forced drain), before the task's caller hears of
 * it; `TaskExtra.attemptOpen` marks the one attempt of a task that is open.
 */

/** How one attempt ended. 'cancelled': its handler gave up with a TaskCancelledError (its signal at a drain deadline). */
export type AttemptOutcome = 'completed' | 'failed' | 'timed-out' | 'cancelled' | 'abandoned';

export interface AttemptEnd {
  readonly outcome: AttemptOutcome;
  /** What the handler threw (or the timeout, or the abandon); undefined when it completed. */
  readonly error: unknown;
  /** Another attempt of the task follows after its backoff. */
  readonly retrying: boolean;
}

/**
 * Called by the pool per task attempt, for tracing (see `PoolOptions.instrument`). Methods
 * must not throw: an error thrown by `start` or `run` fails the attempt like the handler's.
 *
 * Batch handlers: each task of a batch is an attempt of its own (`start` when the batch
 * starts, `end` when its item settles); the batch call itself runs in the pool's context,
 * and `item.run(fn)` runs `fn` through `run` in the item's caller context.
 */
export interface TaskInstrument<A = unknown> {
  /**
   * When the pool accepts a task (in the submitter's call, unless it waited for queue room);
   * what it returns is handed to `start` of each attempt, e.g. a timestamp for queue wait.
   */
  accept?(task: TaskContext): unknown;
  /**
   * An attempt begins; called in the task's caller context (its submitter's async context,
   * unless the handler's `context` is 'none') just before its handler. Returns the attempt's
   * handle, given to `run` and `end`.
   */
  start(task: TaskContext, accepted: unknown): A;
  /** Calls `call` once, synchronously, and returns what it returns: the handler's call. */
  run<R>(attempt: A, call: () => R): R;
  /** The attempt ended (see AttemptEnd). */
  end(attempt: A, end: AttemptEnd): void;
  /**
   * The W3C `traceparent` of the active context, if any: thread mode calls it inside `run`
   * and sends it with the task, so the thread's handler joins the same trace.
   */
  traceparent?(): string | undefined;
}

const METHODS = ['start', 'run', 'end'] as const;

/** Whether `value` can serve as an instrument: the check behind the `instrument` option. */
export function isInstrument(value: unknown): value is TaskInstrument {
  if (value === null || typeof value !== 'object') return false;
  const o = value as Record<string, unknown>;
  return (
    METHODS.every((m) => typeof o[m] === 'function') &&
    (o.accept === undefined || typeof o.accept === 'function') &&
    (o.traceparent === undefined || typeof o.traceparent === 'function')
  );
}

/** At accept: keeps what the instrument wants to remember of the task. */
export function instrumentAccept(instrument: TaskInstrument, task: Task): void {
  if (instrument.accept !== undefined) task.more().accepted = instrument.accept(task);
}

/**
 * One attempt of a single task: opens it, then calls its handler inside `run`. Task.call
 * calls it in the task's scope (see inTaskScope).
 */
export function attemptCall(instrument: TaskInstrument, task: Task): unknown {
  const attempt = startAttempt(instrument, task);
  const fn = task.handler.fn;
  return instrument.run(attempt, () => fn(task.payload, task));
}

/** Opens `task`'s attempt; call in its caller's context. */
export function startAttempt(instrument: TaskInstrument, task: Task): unknown {
  const extra = task.more();
  extra.attempt = instrument.start(task, extra.accepted);
  extra.attemptOpen = true;
  return extra.attempt;
}

/** Closes `task`'s open attempt, if it has one (an attempt ends once). */
export function endAttempt(
  instrument: TaskInstrument,
  task: Task,
  ok: boolean,
  value: unknown,
  retrying: boolean,
  abandoned = false,
): void {
  const extra = task.extra;
  if (extra === undefined || !extra.attemptOpen) return;
  extra.attemptOpen = false;
  const attempt = extra.attempt;
  extra.attempt = undefined;
  const outcome: AttemptOutcome = abandoned
    ? 'abandoned'
    : ok
      ? 'completed'
      : value instanceof TaskTimeoutError
        ? 'timed-out'
        : value instanceof TaskCancelledError
          ? 'cancelled'
          : 'failed';
  try {
    instrument.end(attempt, { outcome, error: ok ? undefined : value, retrying });
  } catch {
    // A broken instrument must not stop the pool: the task settles as it would without it.
  }
}

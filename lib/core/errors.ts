/**
 * Named errors of the engine. Each message says what was wrong and what to do next,
 * so a user reading a log line can fix the call without opening the source.
 *
 * One errors module per layer, each class extending WorkerPoolError (which names it after
 * its class) with a stable `code`: this one, threads/thread.errors.ts,
 * cluster/cluster.errors.ts and worker-pool.errors.ts (the Nest layer, whose wording is in
 * worker-pool.messages.ts). Their shared wording helpers are in error-text.ts.
 */
import { causeMessage, describe, describeResult, withCause } from './error-text.js';

export class WorkerPoolError extends Error {
  /** A stable, machine-readable code; `name` carries the class name. */
  readonly code: string = 'WORKER_POOL_ERROR';
  /**
   * False for a failure that repeats the same way on every attempt (a payload that cannot be
   * cloned): never retried, whatever a handler's or a submit's `retryIf` says.
   */
  readonly retryable: boolean = true;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidOptionError extends WorkerPoolError {
  override readonly code = 'INVALID_OPTION';
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    const convert = conversion(option, value, allowed);
    super(
      convert === undefined
        ? `Invalid option "${option}": got ${describe(value)}; expected ${allowed}.`
        : `Invalid option "${option}": got the string ${describe(value)}; expected ${allowed}. ` +
            `Values read from the environment are strings: convert them first, e.g. ${convert}.`,
    );
  }
}

/**
 * Config and the environment hand over strings ("8", "true"): when such a string stands where
 * a number or a boolean belongs, the message says so and shows the conversion.
 */
function conversion(option: string, value: unknown, allowed: string): string | undefined {
  if (typeof value !== 'string') return undefined;
  const key = `POOL_${option
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/\W+/g, '_')
    .toUpperCase()}`;
  if (/\b(integer|number)\b/.test(allowed) && value.trim() !== '' && !Number.isNaN(Number(value)))
    return `Number(config.get('${key}'))`;
  if (/\btrue or false\b/.test(allowed) && /^(true|false)$/i.test(value.trim()))
    return `config.get('${key}') === 'true'`;
  return undefined;
}

export class UnknownTaskTypeError extends WorkerPoolError {
  override readonly code = 'UNKNOWN_TASK_TYPE';
  constructor(
    readonly type: string,
    readonly known: readonly string[],
  ) {
    const how = `Decorate a provider method with @TaskHandler('${type}') or register one with registerHandler()`;
    super(
      known.length === 0
        ? `No handler is registered for task type "${type}", nor for any other yet. ${how}. ` +
            `With Nest, handlers are registered as the pool's module initializes: submit from onModuleInit or later, not from a constructor or a factory.`
        : `No handler is registered for task type "${type}". Known types: ${known.map((t) => `"${t}"`).join(', ')}. ${how}.`,
    );
  }
}

export class DuplicateHandlerError extends WorkerPoolError {
  override readonly code = 'DUPLICATE_HANDLER';
  constructor(
    readonly type: string,
    readonly existing: string,
    readonly incoming: string,
  ) {
    super(
      `Task type "${type}" has two handlers: ${existing} and ${incoming}. ` +
        `A type has exactly one handler per pool; rename one of the types or remove one handler.`,
    );
  }
}

export class QueueFullError extends WorkerPoolError {
  override readonly code = 'QUEUE_FULL';
  constructor(
    readonly scope: 'pool' | 'session',
    readonly limit: number,
    readonly sessionId?: string,
  ) {
    super(
      scope === 'pool'
        ? `The pool queue is full (${limit} tasks queued). Retry later, raise "maxQueued", or set whenFull: 'wait'.`
        : `The queue of session "${sessionId}" is full (${limit} tasks queued). Retry later, raise "maxQueuedPerSession", or set whenFull: 'wait'.`,
    );
  }
}

export class PoolClosedError extends WorkerPoolError {
  override readonly code = 'POOL_CLOSED';
  constructor(readonly state: string) {
    super(
      `The worker pool is ${state} and accepts no new tasks. Submit before shutdown starts, or check dispatcher.accepting first.`,
    );
  }
}

/**
 * 'shutdown': still queued at the drain deadline. 'deadline': the abort reason given to a
 * handler still running at the drain deadline. 'aborted': the caller's AbortSignal fired.
 */
export type CancelReason = 'shutdown' | 'deadline' | 'aborted';

export class TaskCancelledError extends WorkerPoolError {
  override readonly code = 'TASK_CANCELLED';
  constructor(
    readonly taskId: number,
    readonly reason: CancelReason,
    cause?: unknown,
  ) {
    super(
      reason === 'shutdown'
        ? `Task ${taskId} was cancelled: the pool reached its drain deadline before the task started. Raise "drainTimeoutMs" (Nest module option; drain(deadlineMs) without Nest) or submit fewer tasks before shutdown.`
        : reason === 'deadline'
          ? `Task ${taskId} is still running at the pool's drain deadline; stop it soon (it is abandoned once "drainGraceMs" runs out) and watch ctx.signal in long handlers.`
          : `Task ${taskId} was cancelled by its caller's AbortSignal before it was accepted or started.`,
      withCause(cause),
    );
  }
}

export class TaskTimeoutError extends WorkerPoolError {
  override readonly code = 'TASK_TIMEOUT';
  constructor(
    readonly taskId: number,
    readonly timeoutMs: number,
  ) {
    super(
      `Task ${taskId} timed out after ${timeoutMs} ms; its ctx.signal was aborted. Raise "timeoutMs", or make the handler watch ctx.signal so it stops promptly.`,
    );
  }
}

export class TaskAbandonedError extends WorkerPoolError {
  override readonly code = 'TASK_ABANDONED';
  constructor(
    readonly taskId: number,
    readonly graceMs: number,
  ) {
    super(
      `Task ${taskId} was abandoned: its handler was still running ${graceMs} ms after the drain deadline, so shutdown went on without it. Make the handler follow ctx.signal, or raise "drainGraceMs" (Nest module option; drain(deadlineMs, { graceMs }) without Nest).`,
    );
  }
}

export class UnknownLaneError extends WorkerPoolError {
  override readonly code = 'UNKNOWN_LANE';
  constructor(
    readonly laneId: number,
    readonly known: readonly number[],
  ) {
    super(
      `No lane with id ${laneId}. Current lanes: ${known.join(', ') || '(none)'}. Read lane ids from stats().lanes.`,
    );
  }
}

export class BatchResultError extends WorkerPoolError {
  override readonly code = 'BATCH_RESULT';
  constructor(
    readonly type: string,
    readonly items: number,
    readonly result: unknown,
  ) {
    super(
      `The batch handler of "${type}" returned ${describeResult(result)} for ${items} items. Return an array with one result per item, in order, or nothing; throw to fail every item.`,
    );
  }
}

/**
 * A handler waited on its own task's turn: it submitted to its own session (the new task
 * queues behind the running one, which never settles) or removed the lane it runs on.
 */
export class SelfWaitError extends WorkerPoolError {
  override readonly code = 'SELF_WAIT';
  constructor(
    readonly taskId: number,
    readonly what: string,
    readonly advice: string,
  ) {
    super(`Task ${taskId} ${what}: it would wait for itself forever. ${advice}`);
  }
}

export class EventSubscriberError extends WorkerPoolError {
  override readonly code = 'EVENT_SUBSCRIBER_FAILED';
  constructor(
    /** The event's type when a subscriber threw on one (its pipe may have mapped it). */
    readonly eventType: string | undefined,
    /** Where it failed: handling a value, its error callback (or none), or completion. */
    readonly channel: 'next' | 'error' | 'complete',
    cause: unknown,
  ) {
    super(
      `A subscriber of events$ failed ${
        channel === 'next'
          ? `on ${eventType === undefined ? 'a value' : `a '${eventType}' event`}`
          : channel === 'error'
            ? 'with an error it had no handler for (an operator of its pipe threw)'
            : 'on completion'
      }: ${causeMessage(cause)}. The pool and the other subscribers went on. Catch errors in the subscriber, or handle them in onSubscriberError.`,
      { cause },
    );
  }
}

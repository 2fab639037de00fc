import { type CallerContext, inTaskScope, runIn } from './async-context.js';
import type { HandlerEntry } from './handler-registry.js';
import { type TaskInstrument, attemptCall } from './instrument.js';
import { ReadyKind } from './ready-queue.js';
import type { Session } from './lanes/session.js';
import type { TaskPolicy } from './task-policy.js';

/** What a handler receives beside its payload. */
export interface TaskContext {
  /** Unique within the pool, increasing in submission order. */
  readonly taskId: number;
  readonly type: string;
  /** The session the task belongs to; undefined for unkeyed tasks. */
  readonly sessionId: string | undefined;
  /** 1 on the first run. */
  readonly attempt: number;
  /** The lane running the task. */
  readonly laneId: number;
  /**
   * Aborts when the task should stop early: its timeout (reason: TaskTimeoutError), its
   * caller's AbortSignal (that signal's reason), or the drain deadline (TaskCancelledError).
   */
  readonly signal: AbortSignal;
}

export type TaskHandlerFn<P = any, R = any> = (payload: P, ctx: TaskContext) => R | Promise<R>;

export const enum TaskState {
  Queued,
  Running,
  /** Waiting out a retry backoff. */
  Delayed,
  Done,
  /** Still running when a forced drain gave up on it: whatever it does later is ignored. */
  Abandoned,
  /** In a batch that has not started: not queued in its session any more, but holding it. */
  Batched,
}

export type TaskOutcome = 'completed' | 'failed' | 'timed-out' | 'cancelled' | 'abandoned';

/** What only some tasks need, kept off Task so that a plain queued task stays small. */
export class TaskExtra {
  /** Stops listening to the caller's AbortSignal. */
  detach: (() => void) | undefined = undefined;
  /** The caller's AbortSignal, for the signals of later attempts. */
  callerSignal: AbortSignal | undefined = undefined;
  /** The caller's completion callback. */
  onSettled: ((outcome: TaskOutcome, value: unknown) => void) | undefined = undefined;
  /** For a task timed for the latency histograms: when it was accepted, then when it started. */
  timedAt: number | undefined = undefined;
  /** A handler still running past its timeout (settles when the handler does). */
  zombie: Promise<void> | undefined = undefined;
  /** This attempt's ctx.signal: made when the handler reads it or the task is aborted. */
  controller: AbortController | undefined = undefined;
  /** With an instrument: what its `accept` returned, and the open attempt's handle (see instrument.ts). */
  accepted: unknown = undefined;
  attempt: unknown = undefined;
  attemptOpen = false;
}

/**
 * One accepted task. It doubles as the handler's context so a run allocates nothing
 * beyond the task itself; its AbortController is made only when `signal` is read or the
 * task is aborted.
 * `next` links the task into its session's FIFO.
 */
export class Task implements TaskContext {
  attempt = 1;
  laneId = -1;
  next: Task | undefined = undefined;
  resolve: ((value: unknown) => void) | undefined = undefined;
  reject: ((reason: unknown) => void) | undefined = undefined;
  /** The handler's policy unless the submit call overrode it. */
  policy: TaskPolicy;
  state: TaskState = TaskState.Queued;
  /** Only for tasks that need it (see `more`), so a queued task is 120 bytes, not 136. */
  extra: TaskExtra | undefined = undefined;

  constructor(
    readonly taskId: number,
    readonly handler: HandlerEntry,
    /** Dropped (undefined) once the task is withdrawn: a tombstone keeps no user data. */
    public payload: unknown,
    readonly session: Session | undefined,
    /** Its submitter's async context, where its handler and callbacks run (see async-context). */
    readonly context: CallerContext,
  ) {
    this.policy = handler.policy;
  }

  /** One attempt: the handler's call, in its caller's context (and the pool's instrument, if any). */
  call(instrument?: TaskInstrument): unknown {
    const { fn, selfWait } = this.handler;
    // Run loops are in the pool's own context already: an undefined context stays there.
    return instrument === undefined
      ? inTaskScope(this.context, selfWait, this, fn, this.payload, this)
      : inTaskScope(this.context, selfWait, this, attemptCall, instrument, this);
  }

  /** See ReadyKind. */
  get kind(): ReadyKind.Task {
    return ReadyKind.Task;
  }

  get type(): string {
    return this.handler.type;
  }

  get sessionId(): string | undefined {
    return this.session?.id;
  }

  /** The task's extra fields, made on first use. */
  more(): TaskExtra {
    return (this.extra ??= new TaskExtra());
  }

  get signal(): AbortSignal {
    return (this.more().controller ??= new AbortController()).signal;
  }

  /** Why this attempt's signal was aborted, if it was. */
  get abortReason(): unknown {
    const signal = this.extra?.controller?.signal;
    return signal?.aborted ? signal.reason : undefined;
  }

  /**
   * A retry starts with a signal of its own (the last attempt's timeout is not its own),
   * aborted again at once if its caller has aborted.
   */
  resetSignal(): void {
    if (this.extra === undefined) return;
    this.extra.controller = undefined;
    const caller = this.extra.callerSignal;
    if (caller?.aborted) this.abort(caller.reason);
  }

  // Aborting is rare, so it may create the controller; a second abort keeps the first reason.
  abort(reason: unknown): void {
    const controller = (this.more().controller ??= new AbortController());
    if (controller.signal.aborted) return;
    // Whoever aborts (a timer, a drain, another caller's signal), the task's listeners hear
    // it in their own caller's context.
    runIn(this.context, abortIn, this, reason);
  }
}

/** `Task.abort`'s work, in the task's context: its signal, then its handler's onAbort. */
function abortIn(task: Task, reason: unknown): void {
  task.extra!.controller!.abort(reason);
  const onAbort = task.handler.onAbort;
  if (onAbort === undefined) return;
  try {
    onAbort(task, reason);
  } catch (error) {
    // Thrown inside a timeout or a drain deadline: the engine finishes its step first.
    queueMicrotask(() => {
      throw error;
    });
  }
}

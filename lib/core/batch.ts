import { inTaskScope, orPool, runIn } from './async-context.js';
import { BatchResultError, TaskTimeoutError } from './errors.js';
import type { HandlerEntry } from './handler-registry.js';
import { type TaskInstrument, startAttempt } from './instrument.js';
import { checkDelay, checkObject, intInRange } from './options.js';
import { ReadyKind } from './ready-queue.js';
import type { Task, TaskContext } from './task.js';

/** Most tasks in one batch call. */
export const MAX_BATCH_SIZE = 2 ** 20;

/** A batch handler's collection rule: it starts when it holds `maxSize` tasks or `maxWaitMs` after it began. */
export interface BatchOptions {
  /** Most tasks in one call (at most one per session). */
  maxSize: number;
  /**
   * How long the first task of a batch waits for others to join. 0: the batch takes what is
   * ready on its lane and starts as soon as the lane has nothing else ready.
   */
  maxWaitMs: number;
}

/** One task of a batch, as its handler sees it. */
export interface BatchItem<P = any> {
  readonly payload: P;
  /** The task's own context: its id, session, attempt and signal (its caller's abort). */
  readonly ctx: TaskContext;
  /**
   * Calls `fn` in the async context of the call that submitted this item (its
   * AsyncLocalStorage stores: request, tenant, trace). A batch serves many callers, so the
   * handler itself runs in the pool's context; enter an item's to read its caller's stores.
   * With a pool `instrument` (tracing), `fn` also runs inside the item's own task span.
   */
  run<R>(fn: () => R): R;
  /**
   * Fails this item alone with `error` (its retry policy applies), whatever the call returns
   * or throws for the others: a bulk write that refused one row. Call it before the handler
   * returns; the first call counts, and one after the batch settled does nothing.
   */
  fail(error: unknown): void;
}

class Item implements BatchItem {
  constructor(
    readonly payload: unknown,
    readonly ctx: Task,
    private readonly batch: Batch,
    readonly instrument: TaskInstrument | undefined,
  ) {}

  // Entered from wherever `run` is called, so the pool's context too when the caller's is none;
  // the caller's context has neither the batch's self-wait store nor this item's span.
  run<R>(fn: () => R): R {
    const { instrument, ctx, batch } = this;
    const context = orPool(ctx.context);
    const selfWait = batch.handler.selfWait;
    return instrument === undefined
      ? inTaskScope(context, selfWait, batch, callThunk<R>, fn, undefined)
      : inTaskScope(context, selfWait, batch, runInAttempt<R>, this, fn);
  }

  fail(error: unknown): void {
    this.batch.fail(this.ctx, error);
  }
}

function callThunk<R>(fn: () => R): R {
  return fn();
}

/** With an instrument: `fn` inside `run` of the item's attempt (opened when the batch started). */
function runInAttempt<R>(item: Item, fn: () => R): R {
  return item.instrument!.run(item.ctx.extra!.attempt, fn);
}

/** What a batch handler receives beside its items. */
export interface BatchContext {
  readonly type: string;
  readonly laneId: number;
  readonly size: number;
  /** Aborts at the batch's timeout and at the drain deadline (an item's caller aborts only its ctx.signal). */
  readonly signal: AbortSignal;
}

/**
 * Handles several tasks in one call. Returns one result per item, in order, or nothing
 * (every item completes with undefined); throwing fails every item, each retried by its policy;
 * `item.fail(error)` fails one item alone.
 */
export type BatchHandlerFn<P = any, R = any> = (
  items: BatchItem<P>[],
  ctx: BatchContext,
) => R[] | void | Promise<R[] | void>;

/** Checks a handler's `batch` option. */
export function checkBatchOptions(type: string, batch: unknown): BatchOptions | undefined {
  if (batch === undefined) return undefined;
  const name = `batch of "${type}"`;
  checkObject(name, batch, 'an object such as { maxSize: 100, maxWaitMs: 20 }', [
    'maxSize',
    'maxWaitMs',
  ]);
  const { maxSize, maxWaitMs } = batch as BatchOptions;
  intInRange(`${name}.maxSize`, maxSize, 1, MAX_BATCH_SIZE);
  checkDelay(`${name}.maxWaitMs`, maxWaitMs, false);
  return { maxSize, maxWaitMs };
}

/**
 * Tasks of one batch type gathered on one lane, at most one per session: each holds its
 * session (nothing else of it starts) from the moment it joins until it settles.
 * It waits in its lane's `batches` until it starts.
 */
export class Batch implements BatchContext {
  readonly tasks: Task[] = [];
  /** Closes the batch at maxWaitMs; undefined once it is closed. */
  timer: NodeJS.Timeout | undefined = undefined;
  /** Full or past maxWaitMs: no task joins it any more. */
  closed = false;
  private controller: AbortController | undefined = undefined;
  private timeout: TaskTimeoutError | undefined = undefined;
  /** Items failed on their own by the handler (item.fail), with their errors. */
  private failures: Map<Task, unknown> | undefined = undefined;

  constructor(
    readonly handler: HandlerEntry,
    readonly laneId: number,
  ) {}

  /** See ReadyKind. */
  get kind(): ReadyKind.Batch {
    return ReadyKind.Batch;
  }

  get type(): string {
    return this.handler.type;
  }

  get size(): number {
    return this.tasks.length;
  }

  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  /** The highest priority among its tasks: it waits for a slot at that level. */
  get priority(): number {
    let p = -Infinity;
    for (const t of this.tasks) if (t.policy.priority > p) p = t.policy.priority;
    return p === -Infinity ? 0 : p;
  }

  /** The strictest timeout among its tasks, if any has one. */
  get timeoutMs(): number | undefined {
    let ms: number | undefined;
    for (const t of this.tasks) {
      const own = t.policy.timeoutMs;
      if (own !== undefined && (ms === undefined || own < ms)) ms = own;
    }
    return ms;
  }

  /** The handler's call, in the pool's context; with an instrument, each item's attempt opens first, in its caller's context. */
  call(instrument?: TaskInstrument): unknown {
    if (instrument !== undefined)
      for (const task of this.tasks) runIn(task.context, startAttempt, instrument, task);
    const items = this.tasks.map((task) => new Item(task.payload, task, this, instrument));
    const fn = this.handler.fn as unknown as BatchHandlerFn;
    return inTaskScope(undefined, this.handler.selfWait, this, fn, items, this);
  }

  /** At the timeout: the batch and each item's signal abort, and each task keeps the late call. */
  expire(error: TaskTimeoutError, zombie: Promise<void>): void {
    this.timeout = error;
    this.abort(error);
    for (const task of this.tasks) task.more().zombie = zombie;
  }

  abort(reason: unknown): void {
    (this.controller ??= new AbortController()).abort(reason);
    for (const task of this.tasks) task.abort(reason);
  }

  /** Withdraws a task that has not started; false if it is not in this batch. */
  remove(task: Task): boolean {
    const i = this.tasks.indexOf(task);
    if (i === -1) return false;
    this.tasks.splice(i, 1);
    return true;
  }

  /** See BatchItem.fail. */
  fail(task: Task, error: unknown): void {
    const failures = (this.failures ??= new Map());
    if (!failures.has(task)) failures.set(task, error);
  }

  /**
   * Each item's outcome from the call's: the error it was failed with, else its own result,
   * or the call's error. The batch's timeout becomes one TaskTimeoutError per task, so each
   * caller sees its own task id.
   */
  outcome(i: number, ok: boolean, value: unknown): [ok: boolean, value: unknown] {
    const failures = this.failures;
    if (failures !== undefined && failures.has(this.tasks[i]))
      return [false, failures.get(this.tasks[i])];
    if (!ok) {
      if (value === this.timeout && this.timeout !== undefined)
        return [false, new TaskTimeoutError(this.tasks[i].taskId, this.timeout.timeoutMs)];
      return [false, value];
    }
    if (value === undefined) return [true, undefined];
    try {
      if (Array.isArray(value) && value.length === this.tasks.length) return [true, value[i]];
    } catch {
      // A revoked Proxy or a throwing read: no usable result, the same as a wrong one.
    }
    return [false, new BatchResultError(this.type, this.tasks.length, value)];
  }
}

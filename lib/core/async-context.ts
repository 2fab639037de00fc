import { AsyncResource } from 'node:async_hooks';
import type { Batch } from './batch.js';
import type { SelfWaitCheck } from './self-wait.js';
import type { Task } from './task.js';

/**
 * Which async context user code runs in. A handler, its `ctx.signal` listeners and its
 * caller's callbacks run in the context of the call that submitted the task (whatever
 * AsyncLocalStorage stores it had: nestjs-cls, OpenTelemetry, a logger's request id), never
 * in another caller's. The pool's own work (run loops, timers, events$) runs in the pool's
 * context, captured when this module loads, so no caller's stores leak into it.
 *
 * One AsyncResource per task, made at accept: it captures every store at once (on Node 24
 * it is a pointer to the current context frame), and entering it sets them all.
 */

/** 'caller': user code runs in its submitter's async context. 'none': in the pool's. */
export type ContextMode = 'caller' | 'none';

export const CONTEXT_MODES: readonly ContextMode[] = ['caller', 'none'];

/** A captured async context; undefined stands for the pool's own. */
export type CallerContext = AsyncResource | undefined;

const RESOURCE_TYPE = 'nest-worker-pool.task';
// Passed explicitly: without options, Node reads them from a frozen null-prototype default,
// which cost a keyed submit 1,500 instructions on Node 20 (callgrind). Destroy stays
// automatic (on GC), for async hooks that clean up on it.
const RESOURCE_OPTIONS = { requireManualDestroy: false };

/** The pool's own context: the one this module was loaded in, before any request. */
const poolContext = new AsyncResource('nest-worker-pool');

/** The current async context, to enter again later with `runIn`. */
export function captureContext(): AsyncResource {
  return new AsyncResource(RESOURCE_TYPE, RESOURCE_OPTIONS);
}

/** Calls `fn(a, b)` in `context` (the pool's own when undefined). */
export function runIn<A, B, R>(context: CallerContext, fn: (a: A, b: B) => R, a: A, b: B): R {
  return (context ?? poolContext).runInAsyncScope(fn, undefined, a, b);
}

/** `context`, or the pool's own for undefined: to enter it from wherever the call comes. */
export function orPool(context: CallerContext): AsyncResource {
  return context ?? poolContext;
}

/**
 * Calls `fn(a, b)` in a task's scope, the one place that enters it (Task.call, Batch.call, a
 * batch item's `run`): `context`, its caller's async context (undefined: the current one, where
 * the caller is in the pool's already), and, with the self-wait check on, `work` noted as the
 * running handler call. With an instrument, `fn` opens or enters the attempt's `run` (see
 * instrument.ts). Branches rather than wraps, so a plain call pays nothing.
 */
export function inTaskScope<A, B, R>(
  context: CallerContext,
  selfWait: SelfWaitCheck | undefined,
  work: Task | Batch,
  fn: (a: A, b: B) => R,
  a: A,
  b: B,
): R {
  if (selfWait === undefined) {
    if (context === undefined) return fn(a, b);
    return context.runInAsyncScope(fn, undefined, a, b);
  }
  if (context === undefined) return selfWait.call(work, fn, a, b);
  return context.runInAsyncScope(selfWait.call<A, B, R>, selfWait, work, fn, a, b);
}

/**
 * Calls `fn(arg)` on `self` in the pool's own context: where the pool starts work of its
 * own (a run loop, an event) from inside some caller's call.
 */
export function runInPool<T, A, R>(self: T, fn: (this: T, arg: A) => R, arg: A): R {
  return poolContext.runInAsyncScope(fn, self, arg);
}

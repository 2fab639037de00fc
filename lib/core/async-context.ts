import { AsyncResource } from 'node:async_hooks';

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

/** Calls `fn()` in `context` (the pool's own when undefined). */
export function enter<R>(context: CallerContext, fn: () => R): R {
  return (context ?? poolContext).runInAsyncScope(fn);
}

/**
 * Calls `fn(arg)` on `self` in the pool's own context: where the pool starts work of its
 * own (a run loop, an event) from inside some caller's call.
 */
export function runInPool<T, A, R>(self: T, fn: (this: T, arg: A) => R, arg: A): R {
  return poolContext.runInAsyncScope(fn, self, arg);
}

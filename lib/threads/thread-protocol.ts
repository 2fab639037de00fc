/**
 * Messages between the main thread and a lane's thread. Tasks and results travel in
 * batches as flat arrays (no object per task), so one postMessage carries many of each.
 */

import type { LogLevel } from '@nestjs/common';

/**
 * Slots per task in a `run` batch: seq, type index, session id, attempt, task id, payload,
 * arrived (1 when the main thread's SessionMemory says the session is new to this thread),
 * then for a task of a durable queue (cluster mode) redelivered (1/0) and its job id (else 0
 * and null).
 */
export const TASK_STRIDE = 9;
/** Slots per result in a `done` batch: seq, outcome (see Settled), value or wire error. */
export const RESULT_STRIDE = 3;

/** How a task ended in its thread: the `ok` slot of a `done` batch. */
export const enum Settled {
  Failed = 0,
  Completed = 1,
  /**
   * Failed with the reason its ctx.signal was aborted with, as sent from the main thread: the
   * main thread settles it with its own reason object, so a drain's TaskCancelledError (or a
   * caller's reason) comes back as itself, not as a copy without its class.
   */
  FailedWithAbortReason = 2,
}

/** What a thread is started with (its `workerData`). */
export interface ThreadData {
  /** File URL of the user's module. */
  module: string;
  exportName: string | undefined;
  pool: string;
  laneId: number;
  /** Int32[0]: seq of the last task the thread started (read after it ends). */
  started: SharedArrayBuffer;
  logLevels: LogLevel[] | false;
}

/** A handler as a thread reports it: its type and the options the main thread applies. */
export interface ReportedHandler {
  type: string;
  origin: string;
  retry?: unknown;
  timeoutMs?: number;
  overlapOnTimeout?: boolean;
  priority?: number;
  rateLimit?: { tasks: number; intervalMs: number };
}

export type ToThread =
  /**
   * `tp`: seq, W3C traceparent pairs for the traced tasks of `t` (in seq order); absent
   * unless the pool has an instrument that propagates a trace (see docs/tracing.md).
   */
  | { k: 'run'; t: unknown[]; tp?: unknown[] }
  | { k: 'abort'; seq: number; reason: unknown }
  | { k: 'close' };

export type FromThread =
  | { k: 'ready'; handlers: ReportedHandler[]; heap: [number, number] }
  | { k: 'boot-failed'; error: WireError }
  | { k: 'done'; r: unknown[]; heap?: [number, number] };

/** An error as it crosses threads: class identity is lost, name, message, stack and code stay. */
export interface WireError {
  __wireError: true;
  name: string;
  message: string;
  stack: string | undefined;
  props: Record<string, string | number | boolean | null>;
}

/** `error` as it can cross threads; never throws, whatever was thrown (getters, revoked proxies). */
export function toWire(error: unknown): unknown {
  try {
    if (!(error instanceof Error)) return error;
    const props: WireError['props'] = {};
    for (const [key, value] of Object.entries(error)) {
      const t = typeof value;
      if (value === null || t === 'string' || t === 'number' || t === 'boolean')
        props[key] = value as WireError['props'][string];
    }
    const stack = error.stack;
    return {
      __wireError: true,
      name: String(error.name),
      message: String(error.message),
      stack: typeof stack === 'string' ? stack : undefined,
      props,
    } satisfies WireError;
  } catch (unreadable) {
    return {
      __wireError: true,
      name: 'Error',
      message: `a thrown value that cannot be read (${describeValue(unreadable)})`,
      stack: undefined,
      props: {},
    } satisfies WireError;
  }
}

/** A short description of any value for a message; never throws. */
export function describeValue(value: unknown): string {
  try {
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    if (typeof value === 'symbol') return value.toString();
    if (typeof value === 'function') return value.name ? `function ${value.name}` : 'a function';
    if (typeof value === 'object' && value !== null) {
      const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)
        ?.constructor?.name;
      return typeof name === 'string' && name !== 'Object' ? `an object (${name})` : 'an object';
    }
    return String(value);
  } catch {
    return `a value that cannot be read (${typeof value})`;
  }
}

export function fromWire(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || !(value as WireError).__wireError)
    return value;
  const w = value as WireError;
  const error = Object.assign(new Error(w.message), w.props);
  Object.defineProperty(error, 'name', { value: w.name, configurable: true, writable: true });
  if (w.stack !== undefined) error.stack = w.stack;
  return error;
}

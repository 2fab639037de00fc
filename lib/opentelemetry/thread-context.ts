import { type SpanContext, context, isSpanContextValid, trace } from '@opentelemetry/api';

/**
 * The thread side of thread mode's trace propagation: a lane's thread loads this module
 * (only when a task arrives with a `traceparent`, and only if @opentelemetry/api can be
 * imported there) and runs the handler inside the remote span context it names, so spans
 * the handler makes join the submitter's trace. The thread's tracer provider and context
 * manager are the app's to register in the thread (see docs/tracing.md).
 */

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span context a W3C `traceparent` names, or undefined if it is malformed or invalid. */
export function parseTraceparent(traceparent: string): SpanContext | undefined {
  const m = TRACEPARENT.exec(traceparent);
  if (m === null || m[1] === 'ff') return undefined;
  const sc: SpanContext = {
    traceId: m[2],
    spanId: m[3],
    traceFlags: parseInt(m[4], 16),
    isRemote: true,
  };
  return isSpanContextValid(sc) ? sc : undefined;
}

/** Calls `fn(a, b)` with the span `traceparent` names as the active (remote) parent. */
export function runInTraceparent<A, B, R>(
  traceparent: string,
  fn: (a: A, b: B) => R,
  a: A,
  b: B,
): R {
  const sc = parseTraceparent(traceparent);
  if (sc === undefined) return fn(a, b);
  return context.with(trace.setSpanContext(context.active(), sc), fn, undefined, a, b);
}

import {
  type Attributes,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  context,
  isSpanContextValid,
  trace,
} from '@opentelemetry/api';
import type { AttemptEnd, TaskContext, TaskInstrument } from '../core/index.js';

/**
 * A pool instrument that traces with OpenTelemetry: one `worker_pool.task` span (kind
 * CONSUMER) per task attempt, a child of the span that was active where the task was
 * submitted; the handler runs inside it, so spans it makes are its children.
 *
 * Invariant: a span ends exactly once, when its attempt ends (the pool guarantees one `end`
 * per `start`), so a timed-out attempt's span ends at the timeout even if its handler runs on.
 */
export interface TaskTracingOptions {
  /** The pool's name, set as `worker_pool.name`. Default: 'default'. */
  poolName?: string;
  /** The tracer to use. Default: `trace.getTracer('nest-worker-pool')` from the global provider. */
  tracer?: Tracer;
}

export const TASK_SPAN_NAME = 'worker_pool.task';
export const MESSAGING_SYSTEM = 'nest-worker-pool';

/** Makes the instrument for `PoolOptions.instrument` (or `WorkerPoolModule.forRoot({ instrument })`). */
export function tracePoolTasks(options: TaskTracingOptions = {}): TaskInstrument<Span> {
  const poolName = options.poolName ?? 'default';
  const tracer = options.tracer ?? trace.getTracer('nest-worker-pool');
  return {
    // performance.now() at accept: queue wait is measured on the first attempt only (a retry
    // waits out its backoff, which is not queue wait).
    accept: () => performance.now(),
    start(task: TaskContext, acceptedAt: unknown): Span {
      const attributes: Attributes = {
        'messaging.system': MESSAGING_SYSTEM,
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': task.type,
        'messaging.message.id': String(task.taskId),
        'worker_pool.name': poolName,
        'worker_pool.task_id': task.taskId,
        'worker_pool.lane_id': task.laneId,
        'worker_pool.attempt': task.attempt,
      };
      if (task.sessionId !== undefined) attributes['worker_pool.session_id'] = task.sessionId;
      if (task.attempt === 1 && typeof acceptedAt === 'number')
        attributes['worker_pool.queue_wait_ms'] = performance.now() - acceptedAt;
      // In the task's caller context: the active span is its submitter's.
      return tracer.startSpan(TASK_SPAN_NAME, { kind: SpanKind.CONSUMER, attributes });
    },
    run: <R>(span: Span, call: () => R): R =>
      context.with(trace.setSpan(context.active(), span), call),
    end(span: Span, end: AttemptEnd): void {
      span.setAttribute('worker_pool.outcome', end.outcome);
      if (end.outcome !== 'completed') {
        if (end.retrying) span.setAttribute('worker_pool.retrying', true);
        const error = end.error;
        if (error instanceof Error) {
          span.recordException(error);
          span.setAttribute('error.type', error.name);
        } else {
          span.recordException(String(error));
        }
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : String(error),
        });
      }
      span.end();
    },
    traceparent: activeTraceparent,
  };
}

/** The W3C `traceparent` of the active span, if there is a valid one. */
export function activeTraceparent(): string | undefined {
  const sc = trace.getSpanContext(context.active());
  if (sc === undefined || !isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

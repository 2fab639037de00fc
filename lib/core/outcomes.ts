import { type Observable, Subject } from 'rxjs';
import { runIn, runInPool } from './async-context.js';
import type { Batch } from './batch.js';
import type { DrainReport } from './drain-report.js';
import {
  EventSubscriberError,
  TaskAbandonedError,
  type TaskCancelledError,
  TaskTimeoutError,
  WorkerPoolError,
} from './errors.js';
import { EventStream } from './event-stream.js';
import type { PoolEvent, PoolEventType } from './events.js';
import { endAttempt } from './instrument.js';
import { LatencyRecorder } from './latency.js';
import { now } from './load-meter.js';
import type { ResolvedPoolOptions } from './options.js';
import type { Task, TaskOutcome } from './task.js';
import { backoffDelay } from './task-policy.js';

/**
 * How a task's end is delivered and counted. Every accepted task reaches exactly one of
 * these, once: its caller (or onUnhandledFailure), its onSettled callback, the counters,
 * the latency histograms when it was timed, and events$ when anyone listens.
 */
/** Events about the pool rather than one task: rare, so cheap to watch under any load. */
const POOL_LEVEL: ReadonlySet<PoolEventType> = new Set<PoolEventType>([
  'lane-added',
  'lane-retiring',
  'lane-removed',
  'resized',
  'scaling-decision',
  'drain-started',
  'drained',
]);

export class Outcomes {
  readonly counts = {
    accepted: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
    rejected: 0,
    timedOut: 0,
    abandoned: 0,
    /** Settlements of abandoned handlers that came after all, and were ignored. */
    lateSettlements: 0,
    retried: 0,
    deadLettered: 0,
    /** Calls of batch handlers; their tasks are counted one by one above. */
    batches: 0,
    /** Submits and lane removals refused because a handler would wait for itself. */
    selfWaits: 0,
  };
  /** The drain under way, which lists the tasks it cancels. */
  report: DrainReport | undefined;
  private readonly events = new Subject<PoolEvent>();
  private readonly stream: EventStream<PoolEvent>;
  /** Only the events about the pool itself (see POOL_LEVEL): task events are not built for it. */
  private readonly poolEvents = new Subject<PoolEvent>();
  private readonly poolStream: EventStream<PoolEvent>;
  /** Tasks accepted since the last one timed (see latencySampleEvery). */
  private sinceSample = 0;

  constructor(private readonly options: ResolvedPoolOptions) {
    const report = (cause: unknown, value: unknown, channel: 'next' | 'error' | 'complete') =>
      options.onSubscriberError(new EventSubscriberError(eventType(value), channel, cause));
    this.stream = new EventStream<PoolEvent>(report, (subscriber) =>
      this.events.subscribe(subscriber),
    );
    this.poolStream = new EventStream<PoolEvent>(report, (subscriber) =>
      this.poolEvents.subscribe(subscriber),
    );
  }

  /** True while someone listens to events$ or poolEvents$: pool-level events are built then. */
  get watched(): boolean {
    return this.events.observed || this.poolEvents.observed;
  }

  get events$(): Observable<PoolEvent> {
    return this.stream;
  }

  get poolEvents$(): Observable<PoolEvent> {
    return this.poolStream;
  }

  publish(event: PoolEvent): void {
    if (!this.events.observed && !this.poolEvents.observed) return;
    // Subscribers are the pool's observers, not any caller's: they never see a caller's context.
    runInPool(this, this.emit, event);
  }

  private emit(event: PoolEvent): void {
    try {
      if (this.events.observed) this.events.next(event);
      if (this.poolEvents.observed && POOL_LEVEL.has(event.type)) this.poolEvents.next(event);
    } catch {
      // Only reachable with rxjs's deprecated synchronous error handling, or a throwing
      // onSubscriberError: keep the pool going.
    }
  }

  /** The streams end with the pool. */
  complete(): void {
    this.events.complete();
    this.poolEvents.complete();
  }

  /** Whether the next accepted task is one to time: one in latencySampleEvery, by a counter. */
  sample(): boolean {
    if (++this.sinceSample !== this.options.latencySampleEvery) return false;
    this.sinceSample = 0;
    return true;
  }

  accepted(task: Task): void {
    this.counts.accepted++;
    task.handler.counts.accepted++;
    if (this.events.observed) this.publish({ type: 'accepted', ...describe(task) });
  }

  started(task: Task): void {
    if (task.extra?.timedAt !== undefined) this.timeStart(task);
    if (this.events.observed) {
      this.publish({
        type: 'started',
        ...describe(task),
        laneId: task.laneId,
        attempt: task.attempt,
      });
    }
  }

  batchStarted(batch: Batch): void {
    this.counts.batches++;
    batch.handler.counts.batches!++;
    if (this.events.observed) {
      this.publish({
        type: 'batch-started',
        taskType: batch.type,
        laneId: batch.laneId,
        taskIds: batch.tasks.map((t) => t.taskId),
      });
    }
  }

  /** A forced drain gave up on a running task. */
  abandon(task: Task, graceMs: number, report: DrainReport): void {
    const error = new TaskAbandonedError(task.taskId, graceMs);
    const instrument = this.options.instrument;
    if (instrument !== undefined) endAttempt(instrument, task, false, error, false, true);
    if (task.extra !== undefined) this.finalize(task, 'abandoned', error);
    this.counts.abandoned++;
    report.abandonedTasks.push({ taskId: task.taskId, type: task.type, sessionId: task.sessionId });
    if (task.reject !== undefined) task.reject(error);
    else this.reportUnhandled(task, error);
  }

  settle(task: Task, ok: boolean, value: unknown): void {
    const timedOut = !ok && isTimeout(value);
    if (task.extra !== undefined)
      this.finalize(task, ok ? 'completed' : timedOut ? 'timed-out' : 'failed', value);
    if (task.extra?.timedAt !== undefined) this.timeEnd(task);
    if (this.events.observed) {
      this.publish(
        ok
          ? { type: 'completed', ...describe(task), laneId: task.laneId }
          : {
              type: timedOut ? 'timed-out' : 'failed',
              ...describe(task),
              laneId: task.laneId,
              error: value,
            },
      );
    }
    if (ok) {
      this.counts.completed++;
      task.handler.counts.completed++;
      task.resolve?.(value);
    } else {
      if (timedOut) {
        this.counts.timedOut++;
        task.handler.counts.timedOut++;
      } else {
        this.counts.failed++;
        task.handler.counts.failed++;
      }
      if (task.reject !== undefined) task.reject(value);
      else this.reportUnhandled(task, value);
    }
  }
  /** After a failed attempt: the backoff before the next one, or undefined when it is final. */
  retryDelay(task: Task, error: unknown): number | undefined {
    const p = task.policy;
    if (p.attempts === 1) return undefined;
    let again = task.attempt < p.attempts && retryable(error);
    if (again && p.retryIf !== undefined) {
      try {
        again = runIn(task.context, p.retryIf, error, task) === true;
      } catch {
        again = false; // a broken predicate must not loop a task forever
      }
    }
    if (!again) {
      this.counts.deadLettered++;
      if (this.events.observed)
        this.publish({ type: 'dead-lettered', ...describe(task), attempts: task.attempt, error });
      try {
        runIn(task.context, this.options.onDeadLetter, error, {
          ...describe(task),
          type: task.type,
          attempts: task.attempt,
          payload: task.payload,
        });
      } catch {
        // The failure still reaches its caller; a throwing hook must not stop the pool.
      }
      return undefined;
    }
    const delayMs = backoffDelay(p, task.attempt);
    this.counts.retried++;
    if (this.events.observed)
      this.publish({ type: 'retrying', ...describe(task), attempt: task.attempt, delayMs, error });
    return delayMs;
  }
  // Runs first when a task settles: stop following its caller's signal, then tell its
  // onSettled callback, synchronously, before anything else of the pool moves.
  private finalize(task: Task, outcome: TaskOutcome, value: unknown): void {
    const { detach, onSettled } = task.extra!;
    detach?.();
    if (onSettled === undefined) return;
    try {
      runIn(task.context, onSettled, outcome, value);
    } catch (error) {
      this.reportUnhandled(task, error);
    }
  }
  cancel(task: Task, error: TaskCancelledError): void {
    if (task.extra !== undefined) this.finalize(task, 'cancelled', error);
    this.report?.cancelledTasks.push({
      taskId: task.taskId,
      type: task.type,
      sessionId: task.sessionId,
      reason: error.reason,
    });
    this.counts.cancelled++;
    task.handler.counts.cancelled++;
    if (this.events.observed)
      this.publish({ type: 'cancelled', ...describe(task), reason: error.reason });
    if (task.reject !== undefined) task.reject(error);
    else this.reportUnhandled(task, error);
  }
  timeStart(task: Task): void {
    const at = now();
    const extra = task.extra!;
    if (task.attempt === 1) this.recorder(task).recordWait(at - extra.timedAt!, at);
    extra.timedAt = at;
  }
  private timeEnd(task: Task): void {
    const at = now();
    this.recorder(task).recordRun(at - task.extra!.timedAt!, at);
  }
  private recorder(task: Task): LatencyRecorder {
    return (task.handler.latency ??= new LatencyRecorder());
  }
  reportUnhandled(task: Task, error: unknown): void {
    try {
      runIn(task.context, this.options.onUnhandledFailure, error, {
        taskId: task.taskId,
        type: task.type,
        sessionId: task.sessionId,
      });
    } catch {
      // A throwing reporter must not stop the pool; the failure is already counted.
    }
  }
}

// A handler may throw anything, a revoked Proxy too, whose `instanceof` check throws.
function isTimeout(value: unknown): boolean {
  try {
    return value instanceof TaskTimeoutError;
  } catch {
    return false;
  }
}

// The one place the rule lives, so a per-submit retryIf cannot override it.
function retryable(error: unknown): boolean {
  try {
    return !(error instanceof WorkerPoolError) || error.retryable !== false;
  } catch {
    return true; // a revoked Proxy or a throwing getter: retryIf decides
  }
}

export function describe(task: Task): {
  taskId: number;
  taskType: string;
  sessionId: string | undefined;
} {
  return { taskId: task.taskId, taskType: task.handler.type, sessionId: task.sessionId };
}

function eventType(value: unknown): string | undefined {
  try {
    const type = (value as { type?: unknown } | null | undefined)?.type;
    return typeof type === 'string' ? type : undefined;
  } catch {
    return undefined;
  }
}

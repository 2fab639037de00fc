/**
 * A task fetched from the cluster's queues, as the local Dispatcher carries it: the payload
 * the handler sees is unwrapped by the handler's wrapper (`clusterHandler`, or
 * `clusterBatchHandler` for each item of a batch), which gives it a context whose `attempt`
 * counts the job's attempts on every replica, not only this one. A thread lane's proxy handler
 * does the same in its thread (see DurableTask).
 */
import type { BatchContext, BatchHandlerFn, BatchItem } from '../core/batch.js';
import { DurableTask } from '../core/durable-task.js';
import type { TaskContext, TaskHandlerFn } from '../core/task.js';

/** What is stored as a job's data: the task's type, session and payload. */
export interface Envelope {
  /** Task type. */
  t: string;
  /** Session id, null for an unkeyed task. */
  s: string | null;
  /** Payload (absent when undefined). */
  p?: unknown;
  /** submit(): the channel of the replica awaiting the result (absent for enqueue). */
  c?: string;
}

/** Written as a job's output when its handler failed here (so a later attempt knows it is a retry, not a redelivery). */
export interface FailureOutput {
  nwp: 'failed';
  name: string;
  message: string;
  code?: string;
}

/** Written as a job's output when a drain handed it back (its attempt not used). */
export interface HandedBackOutput {
  nwp: 'handed-back';
  /** Its handler had started here (and may have done part of its work). */
  started: boolean;
}

/** What a handler of a cluster task receives beside its payload. */
export interface ClusterTaskContext extends TaskContext {
  /**
   * True when an earlier attempt of this task ended without an outcome: the replica running
   * it died or lost its heartbeat, or its drain deadline cancelled the running handler, so
   * that attempt may have done part or all of its work.
   * Handlers of cluster tasks must be idempotent (see docs/cluster.md).
   */
  readonly redelivered: boolean;
  /** The pg-boss job id; undefined for a task submitted in-process. */
  readonly jobId: string | undefined;
}

/** A fetched job as the Dispatcher carries it (a DurableTask: thread lanes unwrap it too). */
export class Delivery extends DurableTask {
  constructor(
    readonly jobId: string,
    readonly envelope: Envelope,
    /** 0 on the first attempt. */
    readonly retryCount: number,
    readonly redelivered: boolean,
  ) {
    super();
  }
  get payload(): unknown {
    return this.envelope.p;
  }
  get attempt(): number {
    return this.retryCount + 1;
  }
}

class DeliveryContext implements ClusterTaskContext {
  constructor(
    private readonly ctx: TaskContext,
    private readonly delivery: Delivery,
  ) {}
  get taskId(): number {
    return this.ctx.taskId;
  }
  get type(): string {
    return this.ctx.type;
  }
  get sessionId(): string | undefined {
    return this.ctx.sessionId;
  }
  get attempt(): number {
    return this.delivery.attempt;
  }
  get laneId(): number {
    return this.ctx.laneId;
  }
  get signal(): AbortSignal {
    return this.ctx.signal;
  }
  get redelivered(): boolean {
    return this.delivery.redelivered;
  }
  get jobId(): string | undefined {
    return this.delivery.jobId;
  }
}

/**
 * The handler the Dispatcher runs for `handler` in cluster mode: a cluster task gets its own
 * payload and a ClusterTaskContext; a task submitted in-process passes through unchanged.
 */
export function clusterHandler<P, R>(handler: TaskHandlerFn<P, R>): TaskHandlerFn<unknown, R> {
  return (payload, ctx) =>
    payload instanceof Delivery
      ? handler(payload.payload as P, new DeliveryContext(ctx, payload))
      : handler(payload as P, ctx);
}

/** One item of a batch handler in cluster mode: a cluster task's item has a ClusterTaskContext. */
export interface ClusterBatchItem<P = any> extends BatchItem<P> {
  readonly ctx: ClusterTaskContext;
}

/** A batch handler in cluster mode: each item settles its own job (see BatchItem.fail). */
export type ClusterBatchHandlerFn<P = any, R = any> = (
  items: ClusterBatchItem<P>[],
  ctx: BatchContext,
) => R[] | void | Promise<R[] | void>;

class DeliveryItem implements ClusterBatchItem {
  readonly ctx: ClusterTaskContext;
  constructor(
    private readonly item: BatchItem,
    private readonly delivery: Delivery,
  ) {
    this.ctx = new DeliveryContext(item.ctx, delivery);
  }
  get payload(): unknown {
    return this.delivery.payload;
  }
  run<R>(fn: () => R): R {
    return this.item.run(fn);
  }
  fail(error: unknown): void {
    this.item.fail(error);
  }
}

/**
 * The batch handler the Dispatcher runs for `handler` in cluster mode: each cluster task's
 * item gets its own payload and a ClusterTaskContext, and its outcome (result, item.fail, or
 * the call's error) settles its own job; an item submitted in-process passes through unchanged.
 */
export function clusterBatchHandler<P, R>(
  handler: ClusterBatchHandlerFn<P, R>,
): BatchHandlerFn<unknown, R> {
  return (items, ctx) =>
    handler(
      items.map((item) =>
        item.payload instanceof Delivery
          ? (new DeliveryItem(item, item.payload) as ClusterBatchItem<P>)
          : (item as ClusterBatchItem<P>),
      ),
      ctx,
    );
}

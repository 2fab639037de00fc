/**
 * A task the pool runs on behalf of a durable queue: the Dispatcher carries it as the task's
 * payload, and whoever hands the task to its handler unwraps it, so that the handler sees
 * `payload` and a ctx whose `attempt` is the queue's count (every replica's), not this pool's.
 *
 * Cluster mode's Delivery (a pg-boss job) extends it; thread lanes read it to send a thread
 * the payload and the job's figures. It lives here, in the engine both layers already depend
 * on, so that neither imports the other: thread mode loads nothing of the cluster (or of
 * pg-boss), and the cluster needs no thread internals.
 */
export abstract class DurableTask {
  /** What was enqueued: the payload the handler receives. */
  abstract readonly payload: unknown;
  /** 1 on the first attempt, counted by the queue across replicas. */
  abstract readonly attempt: number;
  /** An earlier attempt ended without an outcome (see ClusterTaskContext.redelivered). */
  abstract readonly redelivered: boolean;
  /** The queue's id of the task. */
  abstract readonly jobId: string;
}

/**
 * Named errors of cluster mode, in the style of core/errors.ts: a stable `code`, and a message
 * that says what was wrong and what to do, naming the option or the call.
 */
import { errorMessage, withCause } from '../core/error-text.js';
import { WorkerPoolError } from '../core/errors.js';

/** A payload (or result) that would not survive a trip through PostgreSQL as JSON. */
export class NotJsonError extends WorkerPoolError {
  override readonly code = 'NOT_JSON';
  constructor(
    /** What was checked: 'payload' or 'result'. */
    readonly what: 'payload' | 'result',
    readonly type: string,
    /** Where in it, e.g. `payload.items[2].at`. */
    readonly path: string,
    /** What was found there, e.g. "a Date". */
    readonly found: string,
  ) {
    super(
      `The ${what} of task "${type}" is not JSON: ${path} is ${found}. Cluster mode stores tasks ` +
        `in PostgreSQL as JSON, so a ${what} may hold only plain objects, arrays, strings, finite ` +
        `numbers, booleans and null: convert it first (a Date with toISOString(), a Map with ` +
        `Object.fromEntries(), a bigint with String()).`,
    );
  }
}

/** The database could not be reached, or refused the connection, when cluster mode started. */
export class ClusterConnectionError extends WorkerPoolError {
  override readonly code = 'CLUSTER_CONNECTION';
  constructor(
    /** The connection string with any password removed, or "the PgBoss instance given". */
    readonly target: string,
    cause: unknown,
  ) {
    super(
      `Cluster mode could not start on ${target}: ${errorMessage(cause)}. ` +
        `Check cluster.connectionString (postgres://user:password@host:5432/database), that ` +
        `PostgreSQL is running there and that the database exists.`,
      { cause },
    );
  }
}

/** enqueue() / submit(): the database did not take the task (unreachable, or it dropped the write). */
export class ClusterUnavailableError extends WorkerPoolError {
  override readonly code = 'CLUSTER_UNAVAILABLE';
  constructor(
    readonly type: string,
    /** The connection string with any password removed, or "the database of cluster.boss". */
    readonly target: string,
    cause: unknown,
  ) {
    super(
      `Task "${type}" was not stored: the cluster's database did not take it (${errorMessage(cause)}). ` +
        `Check that PostgreSQL is running and accepts connections at ${target} (cluster.connectionString), ` +
        `then enqueue the task again; isClusterHealthy() says when the database answers again. ` +
        `A write cut off after it reached the database may have been stored all the same: keep handlers idempotent.`,
      { cause },
    );
  }
}

/** pg-boss is missing, or this Node is older than the one it needs. */
export class ClusterDependencyError extends WorkerPoolError {
  override readonly code = 'CLUSTER_DEPENDENCY';
  constructor(reason: string, cause?: unknown) {
    super(
      `Cluster mode needs pg-boss 12 (npm install pg-boss@12) on Node >= 22.12: ${reason}. ` +
        `Without the cluster option the pool runs in-process and needs neither.`,
      withCause(cause),
    );
  }
}

/** A queue of the cluster exists with another policy than key_strict_fifo. */
export class ClusterQueuePolicyError extends WorkerPoolError {
  override readonly code = 'CLUSTER_QUEUE_POLICY';
  constructor(
    readonly queue: string,
    readonly policy: string,
  ) {
    super(
      `The pg-boss queue "${queue}" exists with policy "${policy}"; cluster mode needs ` +
        `"key_strict_fifo" for per-session order. Choose another cluster.queuePrefix, or delete ` +
        `that queue if nothing else uses it.`,
    );
  }
}

/** enqueue() before start() resolved, or after stop() began; start() after stop() began. */
export class ClusterNotRunningError extends WorkerPoolError {
  override readonly code = 'CLUSTER_NOT_RUNNING';
  constructor(
    readonly state: string,
    /** The call refused. */
    readonly call: 'enqueue' | 'start' = 'enqueue',
  ) {
    super(
      call === 'start'
        ? `Cluster mode is ${state}: a stopped Cluster does not start again. Make a new Cluster (in Nest, a new app) to run again.`
        : state === 'created' || state === 'starting'
          ? `Cluster mode is ${state === 'created' ? 'not started' : 'still starting'}: await start() before enqueue().`
          : `Cluster mode is ${state}: it takes no new tasks once stop() began.`,
    );
  }
}

/** submit(): no outcome came back in time, or the pool stopped first. The task may still run. */
export class ClusterSubmitTimeoutError extends WorkerPoolError {
  override readonly code = 'CLUSTER_SUBMIT_TIMEOUT';
  constructor(
    readonly type: string,
    readonly jobId: string,
    /** undefined: the pool stopped before the outcome came. */
    readonly timeoutMs: number | undefined,
  ) {
    super(
      (timeoutMs === undefined
        ? `The pool stopped before the result of task "${type}" (job ${jobId}) came back. `
        : `No result for task "${type}" (job ${jobId}) within ${timeoutMs} ms (cluster.submitTimeoutMs, or submit's timeoutMs). `) +
        `The task is stored and may still run, or have run: submit it again only if its handler is idempotent, or use enqueue() for work whose result nobody awaits.`,
    );
  }
}

/** submit(): the task failed on its last attempt, on whichever replica ran it. */
export class ClusterTaskFailedError extends WorkerPoolError {
  override readonly code = 'CLUSTER_TASK_FAILED';
  constructor(
    readonly type: string,
    readonly jobId: string,
    /** The handler's error, as it was stored: its name, message and code. */
    readonly remoteName: string,
    readonly remoteMessage: string,
    readonly remoteCode: string | undefined,
    readonly attempts: number,
  ) {
    super(
      `Task "${type}" (job ${jobId}) failed on its last attempt (${attempts} in all; cluster.retry.limit sets how many): ` +
        `${remoteName}: ${remoteMessage}`,
    );
  }
}

/**
 * ctx.signal's reason when this replica no longer holds a task it runs: its heartbeat lapsed
 * and another replica took the job (which runs it again). Its outcome here is not written.
 */
export class ClusterClaimLostError extends WorkerPoolError {
  override readonly code = 'CLUSTER_CLAIM_LOST';
  constructor(
    readonly type: string,
    readonly jobId: string,
  ) {
    super(
      `Task "${type}" (job ${jobId}) is no longer held by this replica: its heartbeat lapsed (the ` +
        `process paused, or lost the database, for longer than cluster.heartbeatSeconds) and another ` +
        `replica runs it again. Its outcome here is not written: stop its work. Raise ` +
        `cluster.heartbeatSeconds if such pauses are expected.`,
    );
  }
}

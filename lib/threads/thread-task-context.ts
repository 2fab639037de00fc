import { threadId } from 'node:worker_threads';
import type { TaskContext } from '../core/task.js';

/** What a handler running in a lane's thread receives beside its payload. */
export interface ThreadTaskContext extends TaskContext {
  /**
   * True when this thread holds no current state for the task's session: its first task
   * here, or the first since the session moved here from another lane (a resize, or this
   * thread replacing one that ended). Rebuild per-session state when it is set. Always true
   * for a cluster task: its session's previous task may have run on another replica.
   */
  readonly arrived: boolean;
  /** `worker_threads` id of the thread running the task. */
  readonly threadId: number;
}

/**
 * The thread-side context; its AbortController is made only when `signal` is read or aborted.
 * `redelivered` and `jobId` are a cluster task's (see DurableTask), so that in cluster mode the
 * ctx is a ClusterTaskContext too; for any other task they are false and undefined, as that
 * interface says of a task submitted in-process.
 */
export class ThreadContext implements ThreadTaskContext {
  private controller: AbortController | undefined = undefined;

  constructor(
    readonly taskId: number,
    readonly type: string,
    readonly sessionId: string | undefined,
    readonly attempt: number,
    readonly laneId: number,
    readonly arrived: boolean,
    readonly redelivered: boolean,
    readonly jobId: string | undefined,
  ) {}

  get threadId(): number {
    return threadId;
  }

  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  abort(reason: unknown): void {
    (this.controller ??= new AbortController()).abort(reason);
  }

  /** Whether `error` is the very reason its signal was aborted with (as signal.throwIfAborted() throws it). */
  isAbortReason(error: unknown): boolean {
    const signal = this.controller?.signal;
    return signal !== undefined && signal.aborted && signal.reason === error;
  }
}

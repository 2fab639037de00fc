import { threadId } from 'node:worker_threads';
import type { TaskContext } from '../core/task.js';

/** What a handler running in a lane's thread receives beside its payload. */
export interface ThreadTaskContext extends TaskContext {
  /**
   * True when this thread holds no current state for the task's session: its first task
   * here, or the first since the session moved here from another lane (a resize, or this
   * thread replacing one that ended). Rebuild per-session state when it is set.
   */
  readonly arrived: boolean;
  /** `worker_threads` id of the thread running the task. */
  readonly threadId: number;
}

/** The thread-side context; its AbortController is made only when `signal` is read or aborted. */
export class ThreadContext implements ThreadTaskContext {
  private controller: AbortController | undefined = undefined;

  constructor(
    readonly taskId: number,
    readonly type: string,
    readonly sessionId: string | undefined,
    readonly attempt: number,
    readonly laneId: number,
    readonly arrived: boolean,
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
}

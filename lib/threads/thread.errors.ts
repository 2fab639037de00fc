import { WorkerPoolError } from '../core/errors.js';

/** Errors of thread mode; each message says what to do next. */

export class PayloadNotCloneableError extends WorkerPoolError {
  override readonly code = 'PAYLOAD_NOT_CLONEABLE';
  override readonly retryable = false;
  constructor(
    readonly taskId: number,
    readonly what: 'payload' | 'result',
    cause?: unknown,
  ) {
    super(
      `The ${what} of task ${taskId} cannot be sent between threads (structured clone failed: ${
        cause instanceof Error ? cause.message : String(cause)
      }). Send plain data: no functions, class instances with private state, sockets or promises.`,
      cause === undefined ? undefined : { cause },
    );
  }
}

export class WorkerThreadExitedError extends WorkerPoolError {
  override readonly code = 'WORKER_THREAD_EXITED';
  constructor(
    readonly taskId: number,
    readonly laneId: number,
    readonly why: string,
    cause?: unknown,
  ) {
    super(
      `Task ${taskId} was running when the thread of lane ${laneId} ended (${why}); the thread was replaced. ` +
        `Give the handler a retry policy to run it again, and look at the cause for the crash.`,
      cause === undefined ? undefined : { cause },
    );
  }
}

export class ThreadStartError extends WorkerPoolError {
  override readonly code = 'THREAD_START_FAILED';
  constructor(
    readonly module: string,
    reason: string,
    cause?: unknown,
  ) {
    super(
      `A worker thread could not start the handler module ${module}: ${reason}. ` +
        `Check that the path or file URL points at built JavaScript and that the module class is exported (threads.exportName).`,
      cause === undefined ? undefined : { cause },
    );
  }
}

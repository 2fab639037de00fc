/** Named errors of thread mode, in the style of core/errors.ts; each message says what to do next. */
import { withCause } from '../core/error-text.js';
import { WorkerPoolError } from '../core/errors.js';
import { describeValue } from './thread-protocol.js';

export class PayloadNotCloneableError extends WorkerPoolError {
  override readonly code = 'PAYLOAD_NOT_CLONEABLE';
  override readonly retryable = false;
  constructor(
    readonly taskId: number,
    readonly what: 'payload' | 'result',
    cause?: unknown,
  ) {
    super(
      `The ${what} of task ${taskId} cannot be sent between threads (structured clone failed: ${describeValue(
        cause,
      )}). Send plain data: no functions, class instances with private state, sockets or promises.`,
      withCause(cause),
    );
  }
}

/**
 * What a task's ctx.signal in a thread aborts with when its caller aborted with a reason
 * that cannot be sent there (a function, a Symbol, a throwing getter). The thread sees it as
 * an Error with this name and `code`; the caller's own promise still gets the real reason.
 */
export class AbortReasonNotCloneableError extends WorkerPoolError {
  override readonly code = 'ABORT_REASON_NOT_CLONEABLE';
  constructor(
    readonly taskId: number,
    readonly description: string,
    cause?: unknown,
  ) {
    super(
      `The abort reason of task ${taskId} (${description}) cannot be sent to its thread (structured clone failed: ${describeValue(
        cause,
      )}), so its ctx.signal aborts with this error instead. Abort with an Error or plain data to pass the reason on.`,
      withCause(cause),
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
      withCause(cause),
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
      withCause(cause),
    );
  }
}

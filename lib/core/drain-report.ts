import type { CancelReason } from './errors.js';

/** What a drain did: every task that was queued or running when it began is counted here. */
export interface DrainReport {
  /** Tasks that completed while draining. */
  completed: number;
  /** Tasks that failed while draining. */
  failed: number;
  /**
   * Tasks cancelled while draining: still queued (or waiting to retry) at the deadline
   * (reason 'shutdown'), or withdrawn by their caller's AbortSignal (reason 'aborted').
   */
  cancelled: number;
  cancelledTasks: Array<{
    taskId: number;
    type: string;
    sessionId: string | undefined;
    reason: CancelReason;
  }>;
  /** Tasks that were running at the deadline and were awaited. */
  runningAtDeadline: number;
  /**
   * Tasks still running when the grace period after the deadline ran out: their callers got
   * `TaskAbandonedError` and whatever their handlers do later is ignored.
   */
  abandonedTasks: Array<{ taskId: number; type: string; sessionId: string | undefined }>;
  /** True if the deadline passed before the queues emptied. */
  deadlineReached: boolean;
  durationMs: number;
}

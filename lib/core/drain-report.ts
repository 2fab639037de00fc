/** What a drain did: every task that was queued or running when it began is counted here. */
export interface DrainReport {
  /** Tasks that completed while draining. */
  completed: number;
  /** Tasks that failed while draining. */
  failed: number;
  /** Tasks still queued at the deadline, settled as cancelled; see `cancelledTasks`. */
  cancelled: number;
  cancelledTasks: Array<{ taskId: number; type: string; sessionId: string | undefined }>;
  /** Tasks that were running at the deadline and were awaited. */
  runningAtDeadline: number;
  /** True if the deadline passed before the queues emptied. */
  deadlineReached: boolean;
  durationMs: number;
}

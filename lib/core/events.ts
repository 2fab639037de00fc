import type { CancelReason } from './errors.js';

interface TaskEventBase {
  taskId: number;
  taskType: string;
  sessionId: string | undefined;
}

/** Lifecycle events of a pool, in the order they happen. */
export type PoolEvent =
  | ({ type: 'accepted' } & TaskEventBase)
  | ({ type: 'started'; laneId: number; attempt: number } & TaskEventBase)
  | ({ type: 'completed'; laneId: number } & TaskEventBase)
  | ({ type: 'failed'; laneId: number; error: unknown } & TaskEventBase)
  /** Its last attempt timed out; `error` is the TaskTimeoutError. */
  | ({ type: 'timed-out'; laneId: number; error: unknown } & TaskEventBase)
  | ({ type: 'cancelled'; reason: CancelReason } & TaskEventBase)
  /** A failed attempt will run again after `delayMs`; its session waits meanwhile. */
  | ({ type: 'retrying'; attempt: number; delayMs: number; error: unknown } & TaskEventBase)
  /** Failed for good after using up its retry policy; `failed` follows. */
  | ({ type: 'dead-lettered'; attempts: number; error: unknown } & TaskEventBase)
  /** A batch handler was called with these tasks (each also has its own 'started'). */
  | { type: 'batch-started'; taskType: string; laneId: number; taskIds: number[] }
  | { type: 'lane-added'; laneId: number }
  /** Taken out of the ring; it finishes its running tasks, then 'lane-removed'. */
  | { type: 'lane-retiring'; laneId: number }
  | { type: 'lane-removed'; laneId: number }
  | { type: 'resized'; from: number; to: number }
  /** Published by extensions such as the autoscaler. */
  | {
      type: 'scaling-decision';
      direction: 'up' | 'down' | 'hold';
      desired: number;
      applied: boolean;
      reason: string;
      inputs: Record<string, number>;
    }
  | { type: 'drain-started'; deadlineMs: number }
  | { type: 'drained'; completed: number; failed: number; cancelled: number };

export type PoolEventType = PoolEvent['type'];

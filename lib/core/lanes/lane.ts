import type { Batch } from '../batch.js';
import { ReadyKind, ReadyQueue } from '../ready-queue.js';
import { BusyMeter, now } from '../load-meter.js';
import type { Session } from './session.js';
import { type Task, TaskState } from '../task.js';

/**
 * A logical worker: up to `concurrency` tasks at once, taken from `ready` in turn.
 *
 * `ready` holds sessions with queued work and nothing running (re-queued at the tail
 * after each task, so sessions on a lane share it round robin) and unkeyed tasks.
 * `slots` counts the run loops alive on this lane; it never exceeds `concurrency`.
 */
/** One run loop's view: the task or batch it is running, if any. */
export interface RunLoop {
  task: Task | undefined;
  batch: Batch | undefined;
  readonly startedAt: number;
  /** A forced drain gave up on what it runs: it no longer counts as the lane's. */
  abandoned: boolean;
}

export class Lane {
  readonly ready = new ReadyQueue<Session | Task | Batch>();
  readonly busy = new BusyMeter();
  /** Batches gathering tasks, or closed and waiting for a slot. */
  readonly batches = new Set<Batch>();
  /** Run loops alive on this lane, each with the task it runs. */
  readonly loops = new Set<RunLoop>();
  /** Tasks homed on this lane and not yet started (in ready sessions or running ones). */
  queued = 0;
  running = 0;
  slots = 0;
  /** Taken out of the placement: finishes what it runs, then is gone. */
  removed = false;
  /** Resolves removal waiters once the last running task has settled. */
  gone: (() => void)[] = [];
  readonly createdAt = now();

  constructor(
    readonly id: number,
    readonly concurrency: number,
  ) {}

  get load(): number {
    return this.queued + this.running;
  }
}

/** A ready entry run loops would skip: a task withdrawn or stolen, a session or batch emptied. */
export function isDead(item: Session | Task | Batch): boolean {
  return item.kind === ReadyKind.Task ? item.state !== TaskState.Queued : item.size === 0;
}

import { now } from '../load-meter.js';
import type { LaneLifecycle } from '../lanes/lane-lifecycle.js';
import type { LaneSet } from '../lanes/lane-set.js';
import type { SessionTable } from '../lanes/session-table.js';
import type { WaitingWork } from '../lanes/waiting-work.js';
import type { RunLoops } from '../run/run-loops.js';
import { Task, TaskState } from '../task.js';

/**
 * What a drain does to the work left at its deadline and after its grace period: cancel
 * what waits, abort what runs, then give up on what still runs. (Drain decides when.)
 */
export class Cutoff {
  constructor(
    private readonly lanes: LaneSet,
    private readonly lifecycle: LaneLifecycle,
    private readonly sessions: SessionTable,
    private readonly work: WaitingWork,
    private readonly loops: RunLoops,
  ) {}

  /** Empties every queue, handing each waiting task to `cancel` in submission order per session. */
  cancelQueued(cancel: (task: Task) => void): void {
    const loops = this.loops;
    loops.closed = true;
    this.sessions.dropIdle();
    const each = (task: Task) => {
      task.state = TaskState.Done;
      cancel(task);
    };
    // A postponed task is its session's oldest: it goes first, and frees its session.
    for (const [task, timer] of loops.delayed) {
      clearTimeout(timer);
      each(task);
      if (task.session !== undefined) task.session.running = false;
    }
    loops.delayed.clear();
    // A batched task too is its session's oldest.
    for (const lane of this.lanes.all()) {
      this.work.gatherer.cancel(lane, (task) => {
        each(task);
        if (task.session !== undefined) task.session.running = false;
      });
    }
    // Parked sessions' tasks go with the sessions below; parked unkeyed tasks go here.
    this.work.limits.clear((item) => {
      if (item instanceof Task && item.state === TaskState.Queued) each(item);
    });
    const sessions = this.sessions.byId;
    for (const s of sessions.values()) {
      let t: Task | undefined;
      while ((t = s.shift()) !== undefined) each(t);
      if (!s.running) sessions.delete(s.id);
    }
    for (const lane of this.lanes.all()) {
      lane.ready.drain((item) => {
        if (item instanceof Task && item.state === TaskState.Queued) each(item);
      });
      lane.queued = 0;
    }
    this.work.queued = 0;
  }

  /** Aborts the ctx.signal of every running handler (a batch's and each of its tasks'). */
  abortRunning(reason: (taskId: number) => unknown): void {
    for (const lane of this.lanes.all()) {
      for (const { task, batch } of lane.loops) {
        if (task !== undefined) task.abort(reason(task.taskId));
        if (batch !== undefined) {
          for (const t of batch.tasks) t.abort(reason(t.taskId));
          batch.abort(reason(batch.tasks[0].taskId));
        }
      }
    }
  }

  /**
   * Gives up on every handler still running (and every late one past its timeout), so the
   * pool can stop. Each running task is handed to `each` to settle its caller.
   */
  abandon(each: (task: Task) => void): void {
    const sessions = this.sessions.byId;
    const loops = this.loops;
    const give = (task: Task) => {
      task.state = TaskState.Abandoned;
      const s = task.session;
      if (s !== undefined) {
        s.running = false;
        if (s.size === 0) sessions.delete(s.id);
      }
    };
    const at = now();
    for (const lane of this.lanes.all()) {
      for (const loop of [...lane.loops]) {
        for (const task of loop.batch?.tasks ?? (loop.task === undefined ? [] : [loop.task])) {
          if (task.state !== TaskState.Running) continue;
          give(task);
          lane.running--;
          loops.running--;
          each(task);
          loop.abandoned = true;
        }
        // The loop waits on for its handler, but as no part of the lane: its slot is free.
        if (!loop.abandoned) continue;
        lane.loops.delete(loop);
        lane.slots--;
        lane.busy.ended(at, loop.startedAt);
      }
    }
    for (const { task } of loops.late.keys()) {
      // A late handler's caller heard of its timeout already, unless a retry was to follow.
      const retrying = task.state === TaskState.Delayed;
      give(task);
      if (retrying) each(task);
    }
    loops.late.clear();
    // A removed lane runs nothing the pool still waits for: it is gone now, and whoever
    // awaits its removal (a resize, the autoscaler) is not held up by a hung handler.
    for (const lane of [...this.lanes.retiring])
      if (lane.running === 0 && lane.slots === 0) this.lifecycle.retire(lane);
  }
}

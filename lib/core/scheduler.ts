import { now } from './load-meter.js';
import { RunLoops } from './run-loops.js';
import { Task, TaskState } from './task.js';

export { IDLE_SESSIONS_KEPT, type LaneListener, type Placement } from './lane-placement.js';
export type { SchedulerHooks } from './run-loops.js';

/**
 * The pool's engine below the Dispatcher: lanes and sessions (LanePlacement), run loops
 * (RunLoops), and here what a drain does to the work left at its deadline and after its
 * grace period: cancel what waits, abort what runs, then give up on what still runs.
 */
export class Scheduler extends RunLoops {
  /** Empties every queue, handing each waiting task to `each` in submission order per session. */
  cancelQueued(cancel: (task: Task) => void): void {
    this.closed = true;
    this.dropIdle();
    const each = (task: Task) => {
      task.state = TaskState.Done;
      cancel(task);
    };
    // A postponed task is its session's oldest: it goes first, and frees its session.
    for (const [task, timer] of this.delayed) {
      clearTimeout(timer);
      each(task);
      if (task.session !== undefined) task.session.running = false;
    }
    this.delayed.clear();
    // A batched task too is its session's oldest.
    for (const lane of [...this.lanes.values(), ...this.retiring]) {
      this.gatherer.cancel(lane, (task) => {
        each(task);
        if (task.session !== undefined) task.session.running = false;
      });
    }
    // Parked sessions' tasks go with the sessions below; parked unkeyed tasks go here.
    this.limits.clear((item) => {
      if (item instanceof Task && item.state === TaskState.Queued) each(item);
    });
    for (const s of this.sessions.values()) {
      let t: Task | undefined;
      while ((t = s.shift()) !== undefined) each(t);
      if (!s.running) this.sessions.delete(s.id);
    }
    for (const lane of [...this.lanes.values(), ...this.retiring]) {
      lane.ready.drain((item) => {
        if (item instanceof Task && item.state === TaskState.Queued) each(item);
      });
      lane.queued = 0;
    }
    this.queued = 0;
  }

  /** Aborts the ctx.signal of every running handler (a batch's and each of its tasks'). */
  abortRunning(reason: (taskId: number) => unknown): void {
    for (const lane of [...this.lanes.values(), ...this.retiring]) {
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
    const give = (task: Task) => {
      task.state = TaskState.Abandoned;
      const s = task.session;
      if (s !== undefined) {
        s.running = false;
        if (s.size === 0) this.sessions.delete(s.id);
      }
    };
    const at = now();
    for (const lane of [...this.lanes.values(), ...this.retiring]) {
      for (const loop of [...lane.loops]) {
        for (const task of loop.batch?.tasks ?? (loop.task === undefined ? [] : [loop.task])) {
          if (task.state !== TaskState.Running) continue;
          give(task);
          lane.running--;
          this.running--;
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
    for (const { task } of this.late.keys()) {
      // A late handler's caller heard of its timeout already, unless a retry was to follow.
      const retrying = task.state === TaskState.Delayed;
      give(task);
      if (retrying) each(task);
    }
    this.late.clear();
    // A removed lane runs nothing the pool still waits for: it is gone now, and whoever
    // awaits its removal (a resize, the autoscaler) is not held up by a hung handler.
    for (const lane of [...this.retiring])
      if (lane.running === 0 && lane.slots === 0) this.retire(lane);
  }

  /** Late handlers running longer than twice their timeout: the sign of a stuck lane. */
  overdue(at: number): number {
    let n = 0;
    for (const [{ task }, timedOutAt] of this.late)
      if (at - timedOutAt > (task.policy.timeoutMs ?? 0)) n++;
    return n;
  }
}

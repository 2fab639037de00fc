import { Batch } from './batch.js';
import type { Lane } from './lanes/lane.js';
import { type Task, TaskState } from './task.js';

/** What gathering needs of where work waits (WaitingWork). */
export interface GatherHost {
  /** A batch closed by its maxWaitMs: it waits for a slot of its lane like any ready work. */
  ready(lane: Lane, batch: Batch): void;
  /** A task given back by a removed lane, queued again: it moves like any waiting work. */
  giveBack(lane: Lane, task: Task): void;
}

/**
 * Gathers the tasks of batch handlers into batches, per lane and type (see `Batch`). A
 * gathered task has left its session's queue but still holds the session, and still counts
 * as queued on its lane until its batch starts.
 */
export class BatchGatherer {
  constructor(private readonly host: GatherHost) {}

  /** Adds `task` to its type's open batch on `lane` (opening one); returns the batch once full. */
  add(lane: Lane, task: Task): Batch | undefined {
    const { maxSize, maxWaitMs } = task.handler.batch!;
    task.state = TaskState.Batched;
    task.laneId = lane.id;
    let batch: Batch | undefined;
    for (const b of lane.batches) if (!b.closed && b.handler === task.handler) batch = b;
    if (batch === undefined) {
      const opened = (batch = new Batch(task.handler, lane.id));
      lane.batches.add(opened);
      if (maxSize > 1 && maxWaitMs > 0)
        opened.timer = setTimeout(() => this.close(lane, opened), maxWaitMs);
    }
    batch.tasks.push(task);
    if (batch.size < maxSize) return undefined;
    clearTimeout(batch.timer);
    batch.closed = true;
    return batch;
  }

  /** The lane has nothing else ready: an open batch with maxWaitMs 0 closes with what it has. */
  closeZeroWait(lane: Lane): Batch | undefined {
    for (const batch of lane.batches) {
      if (batch.closed || batch.handler.batch!.maxWaitMs > 0) continue;
      batch.closed = true;
      return batch;
    }
    return undefined;
  }

  /** A caller withdrew a gathered task: it leaves its batch, and an emptied batch is dropped. */
  leave(lane: Lane, task: Task): void {
    for (const batch of lane.batches) {
      if (!batch.remove(task)) continue;
      if (batch.size === 0) {
        clearTimeout(batch.timer);
        lane.batches.delete(batch);
      }
      return;
    }
  }

  /** A removed lane's batches that have not started give their tasks back, in order. */
  giveBack(lane: Lane): void {
    for (const batch of lane.batches) {
      clearTimeout(batch.timer);
      for (const task of batch.tasks) {
        task.state = TaskState.Queued;
        this.host.giveBack(lane, task);
      }
    }
    lane.batches.clear();
  }

  /** Hands every gathered task of `lane` to `each` (the drain deadline cancels them). */
  cancel(lane: Lane, each: (task: Task) => void): void {
    for (const batch of lane.batches) {
      clearTimeout(batch.timer);
      for (const task of batch.tasks) each(task);
    }
    lane.batches.clear();
  }

  /** Tasks gathered on `lanes` in batches that have not started. */
  count(lanes: Iterable<Lane>): number {
    let n = 0;
    for (const lane of lanes) for (const batch of lane.batches) n += batch.size;
    return n;
  }

  private close(lane: Lane, batch: Batch): void {
    batch.timer = undefined;
    batch.closed = true;
    if (batch.size > 0) this.host.ready(lane, batch);
    else lane.batches.delete(batch);
  }
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { SelfWaitError } from './errors.js';
import type { Batch } from './batch.js';
import { type Task, TaskState } from './task.js';

/**
 * Finds a handler about to wait for itself: `submit` to its own session (the new task queues
 * behind the running one, so awaiting it never ends) or the removal of its own lane (which
 * resolves once the lane's running tasks, itself included, have settled). It knows which
 * task a handler call runs for through an AsyncLocalStorage entered for each call.
 *
 * On Node 24 (AsyncContextFrame) entering a store costs a pointer swap, so the check is on
 * by default there. On Node 20 and 22 the first AsyncLocalStorage switches on async hooks
 * for every promise of the process (about 2.3x the cost of a keyed submit, measured), so
 * there it is on only when asked for (`checkSelfWait: true`: cheap for an app that already
 * pays for AsyncLocalStorage through nestjs-cls or OpenTelemetry).
 */
export class SelfWaitCheck {
  private readonly running = new AsyncLocalStorage<Task | Batch>();

  /** Calls `fn(a, b)` with `work` as the running handler call. */
  call<A, B, R>(work: Task | Batch, fn: (a: A, b: B) => R, a: A, b: B): R {
    return this.running.run(work, fn, a, b);
  }

  /** The error for a submit to `sessionId`, when the running handler call holds that session. */
  submitError(sessionId: string): SelfWaitError | undefined {
    const task = this.holder((t) => t.session?.id === sessionId);
    if (task === undefined) return undefined;
    return new SelfWaitError(
      task.taskId,
      `submitted to its own session "${sessionId}" from its handler`,
      'The new task runs only after this one settles. Use enqueue() to queue a follow-up task, or submit to another session.',
    );
  }

  /** The error for removing `laneIds`, when the running handler call runs on one of them. */
  removalError(laneIds: readonly number[]): SelfWaitError | undefined {
    const task = this.holder((t) => laneIds.includes(t.laneId));
    if (task === undefined) return undefined;
    return new SelfWaitError(
      task.taskId,
      `asked to remove lane ${task.laneId}, the one it runs on`,
      'A lane is removed once its running tasks settle. Resize from outside the handler (a service, the autoscaler), or do not await it from here.',
    );
  }

  private holder(test: (task: Task) => boolean): Task | undefined {
    const work = this.running.getStore();
    if (work === undefined) return undefined;
    const tasks = 'tasks' in work ? work.tasks : [work];
    // A handler past its timeout no longer holds its lane slot; a settled one holds nothing.
    return tasks.find((t) => t.state === TaskState.Running && test(t));
  }
}

/** True where entering an AsyncLocalStorage is cheap: Node 24+ with AsyncContextFrame. */
export const CHEAP_ASYNC_CONTEXT =
  Number(process.versions.node.split('.')[0]) >= 24 &&
  ![...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].includes(
    '--no-async-context-frame',
  );

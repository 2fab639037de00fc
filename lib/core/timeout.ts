import { TaskTimeoutError } from './errors.js';
import type { Task } from './task.js';

const ignore = (): void => undefined;

/**
 * Runs a task's handler against its timeout. At the timeout the attempt fails at once
 * (TaskTimeoutError) and ctx.signal aborts; the handler's own promise, which may run on,
 * becomes the task's `zombie` so its session can wait for it.
 */
export function runTimed(task: Task, ms: number): Promise<unknown> {
  let run: Promise<unknown>;
  try {
    run = Promise.resolve(task.handler.fn(task.payload, task));
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new TaskTimeoutError(task.taskId, ms);
      task.zombie = run.then(ignore, ignore);
      task.abort(error);
      reject(error);
    }, ms);
    run.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

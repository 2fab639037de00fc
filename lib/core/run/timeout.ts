import { TaskTimeoutError } from '../errors.js';
import type { Task } from '../task.js';

const ignore = (): void => undefined;

/**
 * Bounds a running handler call by a timeout. At the timeout the attempt fails at once
 * (TaskTimeoutError, for task `taskId`) and `expire` gets the handler's own promise,
 * which may run on, so its session can wait for it (and ctx.signal can be aborted).
 */
export function runTimed(
  run: unknown,
  taskId: number,
  ms: number,
  expire: (error: TaskTimeoutError, zombie: Promise<void>) => void,
): Promise<unknown> {
  const running = Promise.resolve(run);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new TaskTimeoutError(taskId, ms);
      expire(error, running.then(ignore, ignore));
      reject(error);
    }, ms);
    running.then(
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

/** `runTimed` for one task's attempt: at the timeout its ctx.signal aborts and it keeps the late call. */
export function runTimedTask(run: unknown, task: Task, ms: number): Promise<unknown> {
  return runTimed(run, task.taskId, ms, (error, zombie) => {
    task.more().zombie = zombie;
    task.abort(error);
  });
}

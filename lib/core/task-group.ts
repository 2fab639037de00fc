import type { Dispatcher } from './dispatcher.js';
import type { SubmitOptions } from './submit-options.js';
import type { TaskOutcome } from './task.js';

/**
 * An error group over a pool (the seed's `NewGroup(pool).Go(...)`): `wait()` resolves with
 * every result, in submission order, once all succeed, or rejects with the first failure.
 * That failure cancels the rest at once: queued tasks are withdrawn, running ones see
 * `ctx.signal` abort, and later submits to the group are refused.
 */
export class TaskGroup {
  private readonly controller = new AbortController();
  private readonly results: Promise<unknown>[] = [];
  private failure: { error: unknown } | undefined;

  constructor(private readonly pool: Dispatcher) {}

  /** Aborts once a task of the group has failed. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  submit<R = unknown, P = unknown>(
    type: string,
    payload: P,
    options: SubmitOptions = {},
  ): Promise<R> {
    const signal =
      options.signal === undefined
        ? this.controller.signal
        : AbortSignal.any([options.signal, this.controller.signal]);
    const onSettled = (outcome: TaskOutcome, value: unknown) => {
      // Synchronous, so the siblings are cancelled before the failed task's lane moves on.
      if (outcome !== 'completed' && this.failure === undefined) {
        this.failure = { error: value };
        this.controller.abort(value);
      }
      options.onSettled?.(outcome, value);
    };
    const result = this.pool.submit<R, P>(type, payload, { ...options, signal, onSettled });
    result.catch(() => undefined); // reported through wait()
    this.results.push(result);
    return result;
  }

  wait(): Promise<unknown[]> {
    return Promise.all(this.results).catch((error: unknown) => {
      // Cancelled siblings may reject before the failure that cancelled them.
      throw this.failure === undefined ? error : this.failure.error;
    });
  }
}

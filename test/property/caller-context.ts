import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The models submit each task inside `caller.run({ id })` and check, wherever user code of
 * the task runs, that it sees that id: the pool must run it in its own submitter's context.
 */
export const caller = new AsyncLocalStorage<{ id: number }>();

/** The task id user code sees as its caller's, if any. */
export const callerId = (): number | undefined => caller.getStore()?.id;

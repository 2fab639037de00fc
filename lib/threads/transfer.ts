import type { Transferable } from 'node:worker_threads';

const TRANSFER = Symbol.for('nest-worker-pool:transfer');

/** A value to move, not copy, between threads: the listed buffers and ports are transferred. */
export interface Transfer<T> {
  readonly [TRANSFER]: true;
  readonly value: T;
  readonly list: readonly Transferable[];
}

/**
 * Marks a payload (in `submit`) or a handler's result (in a thread) whose `list` of
 * ArrayBuffers or MessagePorts is moved to the other thread instead of copied. A moved
 * buffer is detached on the sending side: do not reuse it, and do not retry such a task.
 */
export function transfer<T>(value: T, list: readonly Transferable[]): T {
  return { [TRANSFER]: true, value, list } as Transfer<T> as unknown as T;
}

export function isTransfer(value: unknown): value is Transfer<unknown> {
  return typeof value === 'object' && value !== null && (value as any)[TRANSFER] === true;
}

import { Logger } from '@nestjs/common';
import { Autoscaler } from './autoscaler/autoscaler.js';
import { Cluster } from './cluster/cluster.js';
import {
  Dispatcher,
  InvalidOptionError,
  TaskAbandonedError,
  TaskCancelledError,
} from './core/index.js';
import { POOL_OPTION_KEYS, REMOVED_POOL_OPTIONS, checkDelay, checkKeys } from './core/options.js';
import type { WorkerPoolOptions } from './interfaces/worker-pool-options.interface.js';
import { ThreadLanes } from './threads/thread-lanes.js';
import { describeTask } from './worker-pool.messages.js';

/** One pool as the module owns it: its name, its engine and its shutdown deadline. */
export class WorkerPoolRef {
  readonly dispatcher: Dispatcher;
  readonly drainTimeoutMs: number;
  readonly drainGraceMs: number;
  readonly logger: Logger;
  /** Present when the pool was configured with `autoscale`. */
  readonly autoscaler: Autoscaler | null = null;
  /** Present in thread mode (the `threads` option). */
  readonly threads: ThreadLanes | null = null;
  /** Present in cluster mode (the `cluster` option). */
  readonly cluster: Cluster | null = null;

  constructor(
    readonly name: string,
    options: WorkerPoolOptions,
  ) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError('options', options, 'an object of WorkerPoolOptions');
    }
    this.logger = new Logger(`WorkerPool:${name}`);
    checkKeys(options, [...POOL_OPTION_KEYS, ...MODULE_OPTION_KEYS], '', REMOVED_POOL_OPTIONS);
    const {
      drainTimeoutMs = 10_000,
      drainGraceMs = 5_000,
      autoscale,
      threads,
      cluster,
      ...poolOptions
    } = options;
    checkDelay('drainTimeoutMs', drainTimeoutMs, true);
    checkDelay('drainGraceMs', drainGraceMs, true);
    this.drainTimeoutMs = drainTimeoutMs;
    this.drainGraceMs = drainGraceMs;
    this.dispatcher = new Dispatcher({
      onUnhandledFailure: (error, task) => {
        // Cancelled or abandoned by a drain: the drain's report lists it, and the lifecycle
        // logs that report (one summary, each task at debug), so a backlog is not a flood.
        const own = asError(error);
        if (causedByDrain(own)) return;
        this.logger.error(
          `Task ${describeTask(task)} failed and nobody awaited it: ${describeError(error)}`,
          tryRead(() => own?.stack),
        );
      },
      onSubscriberError: (error) =>
        this.logger.error(
          error.message,
          error.cause instanceof Error ? error.cause.stack : undefined,
        ),
      // In flight to a thread, several tasks keep it busy while results travel back; a
      // session's warm state lives in its thread, so it stays on its ring home while busy.
      ...(threads === undefined
        ? {}
        : {
            laneConcurrency: THREAD_LANE_CONCURRENCY,
            placement: 'ring' as const,
            rebalance: 'when-idle' as const,
          }),
      ...poolOptions,
    });
    if (threads !== undefined) this.threads = new ThreadLanes(this.dispatcher, threads, name);
    if (cluster !== undefined) {
      // Background errors, and enqueued tasks that failed for good, go to the pool's logger.
      const onError = (error: unknown) =>
        this.logger.error(
          `cluster: ${describeError(error)}`,
          error instanceof Error ? error.stack : undefined,
        );
      this.cluster = new Cluster(
        this.dispatcher,
        cluster !== null && typeof cluster === 'object' ? { onError, ...cluster } : cluster,
      );
    }
    if (autoscale !== undefined) {
      if (autoscale === null || typeof autoscale !== 'object') {
        throw new InvalidOptionError(
          'autoscale',
          autoscale,
          'an object such as { min: 2, max: 32 }',
        );
      }
      this.autoscaler = new Autoscaler(this.dispatcher, autoscale, (d) =>
        this.logger.debug(
          `autoscale ${d.direction} to ${d.desired}${d.applied ? '' : ' (not applied)'}: ${d.reason} ${JSON.stringify(d.inputs)}`,
        ),
      );
    }
  }
}

const MODULE_OPTION_KEYS = [
  'name',
  'isGlobal',
  'drainTimeoutMs',
  'drainGraceMs',
  'autoscale',
  'threads',
  'cluster',
];

/** Default laneConcurrency in thread mode. */
export const THREAD_LANE_CONCURRENCY = 16;

/** What `read` returns, or undefined if it throws (a getter of a thrown value may). */
function tryRead<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** `error` if it is an Error; a value whose `instanceof` check throws (a revoked Proxy) is none. */
function asError(error: unknown): Error | undefined {
  try {
    return error instanceof Error ? error : undefined;
  } catch {
    return undefined;
  }
}

/** A log-safe text for any thrown value (a null-prototype object has no toString). */
function describeError(error: unknown): string {
  const own = asError(error);
  const message = tryRead(() => own?.message);
  if (typeof message === 'string') return message;
  try {
    return String(error);
  } catch {
    try {
      return Object.prototype.toString.call(error);
    } catch {
      return 'a value that cannot be read (a revoked Proxy?)';
    }
  }
}

function causedByDrain(error: Error | undefined): boolean {
  return (
    error instanceof TaskAbandonedError ||
    (error instanceof TaskCancelledError && tryRead(() => error.reason) === 'shutdown')
  );
}

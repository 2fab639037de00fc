import { Logger } from '@nestjs/common';
import { Autoscaler } from './autoscaler/autoscaler.js';
import { Dispatcher, InvalidOptionError } from './core/index.js';
import type { WorkerPoolOptions } from './interfaces/worker-pool-options.interface.js';

/** One pool as the module owns it: its name, its engine and its shutdown deadline. */
export class WorkerPoolRef {
  readonly dispatcher: Dispatcher;
  readonly drainTimeoutMs: number;
  readonly drainGraceMs: number;
  readonly logger: Logger;
  /** Present when the pool was configured with `autoscale`. */
  readonly autoscaler: Autoscaler | null = null;

  constructor(
    readonly name: string,
    options: WorkerPoolOptions,
  ) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError('options', options, 'an object of WorkerPoolOptions');
    }
    this.logger = new Logger(`WorkerPool:${name}`);
    const { drainTimeoutMs = 10_000, drainGraceMs = 5_000, autoscale, ...poolOptions } = options;
    if (!(typeof drainGraceMs === 'number' && drainGraceMs >= 0)) {
      throw new InvalidOptionError(
        'drainGraceMs',
        drainGraceMs,
        'a number of milliseconds >= 0, or Infinity',
      );
    }
    this.drainGraceMs = drainGraceMs;
    if (!(typeof drainTimeoutMs === 'number' && drainTimeoutMs >= 0)) {
      throw new InvalidOptionError(
        'drainTimeoutMs',
        drainTimeoutMs,
        'a number of milliseconds >= 0, or Infinity',
      );
    }
    this.drainTimeoutMs = drainTimeoutMs;
    this.dispatcher = new Dispatcher({
      onUnhandledFailure: (error, task) =>
        this.logger.error(
          `Task ${task.taskId} (${task.type}${task.sessionId === undefined ? '' : `, session ${task.sessionId}`}) failed and nobody awaited it: ${
            error instanceof Error ? error.message : String(error)
          }`,
          error instanceof Error ? error.stack : undefined,
        ),
      ...poolOptions,
    });
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

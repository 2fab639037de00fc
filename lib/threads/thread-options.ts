import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import type { LogLevel } from '@nestjs/common';
import { InvalidOptionError } from '../core/errors.js';
import { checkDelay, checkObject } from '../core/options.js';

/** Thread mode: each lane of the pool is a `worker_threads` thread. */
export interface ThreadLanesOptions {
  /**
   * The module whose providers hold the `@TaskHandler` methods run in the threads: a file
   * URL (`new URL('./cpu.module.js', import.meta.url)`) or a path of built JavaScript.
   * Each thread boots a Nest application context from it.
   */
  module: URL | string;
  /** The module class's export name. Default: the default export, else the one exported @Module class. */
  exportName?: string;
  /**
   * After a task's timeout, how long its handler gets to stop (its ctx.signal is aborted)
   * before its thread is terminated and replaced. Default 0.
   */
  graceMs?: number;
  /** V8 limits per thread; a thread past them ends (its running tasks fail) and is replaced. */
  resourceLimits?: ResourceLimits;
  /** Nest log levels inside the threads, or false for none. Default ['error', 'warn']. */
  logLevels?: LogLevel[] | false;
  /** How long a thread may take to close its Nest context at shutdown before it is terminated (ms). Default 5_000. */
  closeTimeoutMs?: number;
}

export interface ResolvedThreadOptions {
  href: string;
  exportName: string | undefined;
  graceMs: number;
  resourceLimits: ResourceLimits | undefined;
  logLevels: LogLevel[] | false;
  closeTimeoutMs: number;
}

const LOG_LEVELS: readonly LogLevel[] = ['log', 'error', 'warn', 'debug', 'verbose', 'fatal'];

const KEYS = ['module', 'exportName', 'graceMs', 'resourceLimits', 'logLevels', 'closeTimeoutMs'];

export function resolveThreadOptions(options: ThreadLanesOptions): ResolvedThreadOptions {
  checkObject(
    'threads',
    options,
    "an object such as { module: new URL('./cpu.module.js', import.meta.url) }",
    KEYS,
  );
  const m = options.module;
  let href: string;
  if (m instanceof URL && m.protocol === 'file:') href = m.href;
  else if (typeof m === 'string' && m.startsWith('file:')) href = m;
  else if (typeof m === 'string' && m.length > 0)
    href = pathToFileURL(isAbsolute(m) ? m : resolve(m)).href;
  else {
    throw new InvalidOptionError(
      'threads.module',
      m,
      'a file URL or a path of the built module that provides the thread handlers',
    );
  }
  const { exportName, graceMs = 0, resourceLimits, logLevels = ['error', 'warn'] } = options;
  if (exportName !== undefined && (typeof exportName !== 'string' || exportName.length === 0))
    throw new InvalidOptionError('threads.exportName', exportName, 'the module class export name');
  checkDelay('threads.graceMs', graceMs, false);
  const closeTimeoutMs = options.closeTimeoutMs ?? 5_000;
  checkDelay('threads.closeTimeoutMs', closeTimeoutMs, false);
  if (
    resourceLimits !== undefined &&
    (resourceLimits === null || typeof resourceLimits !== 'object')
  )
    throw new InvalidOptionError(
      'threads.resourceLimits',
      resourceLimits,
      'worker_threads ResourceLimits',
    );
  if (logLevels !== false && !Array.isArray(logLevels))
    throw new InvalidOptionError(
      'threads.logLevels',
      logLevels,
      "Nest log levels such as ['error', 'warn'], or false",
    );
  // Config may hand over any strings; Nest would drop an unknown level silently.
  for (const [i, level] of (logLevels || []).entries()) {
    if (!LOG_LEVELS.includes(level))
      throw new InvalidOptionError(
        `threads.logLevels[${i}]`,
        level,
        "a Nest log level: 'log', 'error', 'warn', 'debug', 'verbose' or 'fatal'",
      );
  }
  return { href, exportName, graceMs, resourceLimits, logLevels, closeTimeoutMs };
}

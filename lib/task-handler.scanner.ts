import type { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import type { TaskHandlerMetadata } from './decorators/task-handler.decorator.js';
import { TASK_HANDLER_METADATA } from './worker-pool.constants.js';
import { WorkerPoolRef } from './worker-pool.ref.js';

/** One `@TaskHandler` found on a provider: its metadata, its method bound to the instance. */
export interface FoundTaskHandler {
  meta: TaskHandlerMetadata;
  fn: (...args: any[]) => unknown;
  /** "Class.method", for error messages. */
  origin: string;
  wrapper: InstanceWrapper;
}

/**
 * Every `@TaskHandler` method on the providers Nest knows. Shared by the main thread's
 * explorer and the worker thread's entry, so both discover handlers the same way.
 */
export function scanTaskHandlers(
  discovery: DiscoveryService,
  scanner: MetadataScanner,
  reflector: Reflector,
): FoundTaskHandler[] {
  const found: FoundTaskHandler[] = [];
  for (const wrapper of discovery.getProviders()) {
    const { instance, metatype } = wrapper;
    const prototype = instance
      ? Object.getPrototypeOf(instance)
      : (metatype as Function | null)?.prototype;
    if (!prototype || instance instanceof WorkerPoolRef) continue;
    for (const method of scanner.getAllMethodNames(prototype)) {
      const metas = reflector.get<TaskHandlerMetadata[] | undefined>(
        TASK_HANDLER_METADATA,
        prototype[method],
      );
      if (metas === undefined) continue;
      const origin = `${prototype.constructor.name}.${method}`;
      const fn = prototype[method].bind(instance);
      for (const meta of metas) found.push({ meta, fn, origin, wrapper });
    }
  }
  return found;
}

import { checkBatchOptions } from '../core/batch.js';
import { InvalidOptionError } from '../core/index.js';
import { checkKeys } from '../core/options.js';
import { checkRateLimit } from '../core/rate-limiter.js';
import { HANDLER_OPTION_KEYS, type HandlerRegistration } from '../core/submit-options.js';
import { DEFAULT_TASK_POLICY, resolveTaskPolicy } from '../core/task-policy.js';
import type { TaskHandlerOptions } from '../interfaces/task-handler-options.interface.js';
import { DEFAULT_POOL_NAME, TASK_HANDLER_METADATA } from '../worker-pool.constants.js';

export interface TaskHandlerMetadata extends Omit<HandlerRegistration, 'origin'> {
  type: string;
  pool: string;
}

/**
 * Marks a provider method as the handler of one task type. It is called with the provider
 * instance as `this` and receives `(payload, ctx: TaskContext)`.
 */
export function TaskHandler(type: string, options: TaskHandlerOptions = {}): MethodDecorator {
  if (typeof type !== 'string' || type.length === 0) {
    throw new InvalidOptionError(
      '@TaskHandler type',
      type,
      'a non-empty string naming the task type',
    );
  }
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError(
      '@TaskHandler options',
      options,
      'an object such as { pool: "name" }',
    );
  }
  const pool = options.pool ?? DEFAULT_POOL_NAME;
  if (typeof pool !== 'string' || pool.length === 0) {
    throw new InvalidOptionError('@TaskHandler pool', pool, 'a non-empty string naming a pool');
  }
  checkKeys(options, ['pool', ...HANDLER_OPTION_KEYS], '@TaskHandler ');
  checkRateLimit('@TaskHandler rateLimit', options.rateLimit);
  checkBatchOptions(type, options.batch);
  // Fails at class definition, where the stack points at the decorator.
  resolveTaskPolicy(DEFAULT_TASK_POLICY, options, '@TaskHandler retry');
  // Its keys were checked above: the rest of the options is the handler's registration.
  const meta: TaskHandlerMetadata = { ...options, type, pool };
  // A list, so one method may handle several types (or pools), one decorator each.
  return (_target, _key, descriptor: PropertyDescriptor) => {
    const list: TaskHandlerMetadata[] =
      Reflect.getMetadata(TASK_HANDLER_METADATA, descriptor.value) ?? [];
    Reflect.defineMetadata(TASK_HANDLER_METADATA, [...list, meta], descriptor.value);
    return descriptor;
  };
}

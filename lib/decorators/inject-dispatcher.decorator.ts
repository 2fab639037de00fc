import { Inject } from '@nestjs/common';
import { getDispatcherToken } from '../worker-pool.tokens.js';

/** Injects the dispatcher of a named pool (the default pool when no name is given). */
export const InjectDispatcher = (name?: string): ParameterDecorator & PropertyDecorator =>
  Inject(getDispatcherToken(name));

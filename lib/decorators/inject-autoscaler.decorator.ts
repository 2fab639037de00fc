import { Inject } from '@nestjs/common';
import { getAutoscalerToken } from '../worker-pool.tokens.js';

/**
 * Injects the autoscaler of a named pool (the default pool when no name is given). It is
 * null when the pool has no `autoscale` option, so type the parameter `Autoscaler | null`.
 */
export const InjectAutoscaler = (name?: string): ParameterDecorator & PropertyDecorator =>
  Inject(getAutoscalerToken(name));

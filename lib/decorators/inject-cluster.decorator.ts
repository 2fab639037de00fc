import { Inject } from '@nestjs/common';
import { getClusterToken } from '../worker-pool.tokens.js';

/**
 * Injects the cluster mode of a named pool (the default pool when no name is given; that one
 * is also injectable by its class, `Cluster`). It is null when the pool has no `cluster`
 * option, so type the parameter `Cluster | null`.
 */
export const InjectCluster = (name?: string): ParameterDecorator & PropertyDecorator =>
  Inject(getClusterToken(name));

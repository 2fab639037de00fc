export { WorkerPoolDashboardModule } from './dashboard.module.js';
export type { DashboardGuardFn, WorkerPoolDashboardOptions } from './dashboard-options.js';
export type { PoolSnapshot } from './pool-snapshot.js';
export { DashboardSetupError } from '../worker-pool.errors.js';

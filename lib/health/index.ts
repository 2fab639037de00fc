export { type WorkerPoolHealthOptions, WorkerPoolHealthIndicator } from './worker-pool.health.js';

/**
 * Named errors of the Nest layer, in the style of core/errors.ts; their wording is in
 * worker-pool.messages.ts.
 */
import { WorkerPoolError } from './core/index.js';
import { requestScopedHandler, terminusMissing, unknownPool } from './worker-pool.messages.js';

export class UnknownPoolError extends WorkerPoolError {
  override readonly code = 'UNKNOWN_POOL';
  constructor(origin: string, pool: string, known?: string[]) {
    super(unknownPool(origin, pool, known));
  }
}

export class RequestScopedHandlerError extends WorkerPoolError {
  override readonly code = 'REQUEST_SCOPED_HANDLER';
  constructor(origin: string) {
    super(requestScopedHandler(origin));
  }
}

export class HealthSetupError extends WorkerPoolError {
  override readonly code = 'HEALTH_SETUP';
  constructor() {
    super(terminusMissing());
  }
}

/** The dashboard cannot serve its page (a missing peer such as uplot). */
export class DashboardSetupError extends WorkerPoolError {
  override readonly code = 'DASHBOARD_SETUP';
}

/** Autoscale options are set, but @nestjs/schedule is missing or not imported, or the cron is bad. */
export class AutoscaleSetupError extends WorkerPoolError {
  override readonly code = 'AUTOSCALE_SETUP';
}

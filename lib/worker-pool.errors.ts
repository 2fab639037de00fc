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

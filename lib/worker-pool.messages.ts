export const requestScopedHandler = (origin: string) =>
  `@TaskHandler ${origin} is on a request-scoped provider (or one that depends on one). ` +
  `Task handlers run outside any request: make the provider a singleton (Scope.DEFAULT).`;

export const unknownPool = (origin: string, pool: string, known: string[] | undefined) =>
  `${origin} names pool "${pool}", but no such pool is registered${
    known === undefined ? '' : ` (pools: ${known.map((p) => `"${p}"`).join(', ')})`
  }. Add WorkerPoolModule.forRoot({ name: '${pool}' }) or fix the pool name.`;

export const drainSummary = (
  pool: string,
  r: {
    completed: number;
    failed: number;
    cancelled: number;
    abandonedTasks: unknown[];
    durationMs: number;
  },
) =>
  `Pool "${pool}" drained in ${r.durationMs} ms: ${r.completed} completed, ${r.failed} failed, ${r.cancelled} cancelled, ${r.abandonedTasks.length} abandoned.`;

export const terminusMissing = () =>
  `WorkerPoolHealthIndicator needs @nestjs/terminus's HealthIndicatorService: import TerminusModule ` +
  `in the module that provides WorkerPoolHealthIndicator (imports: [TerminusModule]).`;

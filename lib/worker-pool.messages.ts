import type { CancelReason } from './core/index.js';

export const requestScopedHandler = (origin: string) =>
  `@TaskHandler ${origin} is on a request-scoped provider (or one that depends on one). ` +
  `Task handlers run outside any request: make the provider a singleton (Scope.DEFAULT).`;

export const unknownPool = (origin: string, pool: string, known: string[] | undefined) =>
  `${origin} names pool "${pool}", but no such pool is registered${
    known === undefined ? '' : ` (pools: ${known.map((p) => `"${p}"`).join(', ')})`
  }. Add WorkerPoolModule.forRoot({ name: '${pool}' }) or fix the pool name.`;

type TaskRef = { taskId: number; type: string; sessionId?: string | undefined };
/** 'aborted': withdrawn by its caller's AbortSignal while the pool drained. */
type CancelledRef = TaskRef & { reason: CancelReason };

/** "7 (chat, session s1)": a task as log lines name it. */
export const describeTask = (t: TaskRef) =>
  `${t.taskId} (${t.type}${t.sessionId === undefined ? '' : `, session ${t.sessionId}`})`;

/** Examples shown in a drain summary per outcome; the rest are counted (all are at debug). */
const EXAMPLES = 3;

/**
 * One line for a whole drain, however large the backlog: counts per outcome and per type,
 * a few example tasks, and the options that decide it.
 */
export const drainSummary = (
  pool: string,
  r: {
    completed: number;
    failed: number;
    cancelledTasks: CancelledRef[];
    abandonedTasks: TaskRef[];
    durationMs: number;
  },
  options: { drainTimeoutMs: number; drainGraceMs: number },
) => {
  const { cancelledTasks: cancelled, abandonedTasks: abandoned } = r;
  let line =
    `Pool "${pool}" drained in ${r.durationMs} ms: ${r.completed} completed, ${r.failed} failed, ` +
    `${cancelled.length} cancelled${byType(cancelled)}, ${abandoned.length} abandoned${byType(abandoned)}.`;
  const atDeadline = cancelled.filter((t) => t.reason !== 'aborted');
  if (atDeadline.length > 0)
    line += ` Cancelled, still queued at the deadline ("drainTimeoutMs": ${options.drainTimeoutMs} ms): ${examples(atDeadline)}.`;
  if (atDeadline.length < cancelled.length)
    line += ` Cancelled by their callers' AbortSignal: ${examples(cancelled.filter((t) => t.reason === 'aborted'))}.`;
  if (abandoned.length > 0)
    line += ` Abandoned, still running "drainGraceMs" (${options.drainGraceMs} ms) after it: ${examples(abandoned)}.`;
  if (cancelled.length + abandoned.length > 0)
    line +=
      ' Raise those options or make handlers follow ctx.signal; one line per task at debug level.';
  return line;
};

const byType = (tasks: TaskRef[]) => {
  if (tasks.length === 0) return '';
  const counts = new Map<string, number>();
  for (const t of tasks) counts.set(t.type, (counts.get(t.type) ?? 0) + 1);
  return ` (${[...counts].map(([type, n]) => `${type} ${n}`).join(', ')})`;
};

const examples = (tasks: TaskRef[]) =>
  `task${tasks.length === 1 ? '' : 's'} ${tasks.slice(0, EXAMPLES).map(describeTask).join(', ')}${
    tasks.length > EXAMPLES ? ` and ${tasks.length - EXAMPLES} more` : ''
  }`;

export const cancelledTask = (t: CancelledRef) =>
  `Cancelled task ${describeTask(t)}: ${
    t.reason === 'aborted'
      ? "withdrawn by its caller's AbortSignal while the pool drained"
      : 'still queued at the drain deadline'
  }.`;

export const abandonedTask = (t: TaskRef, graceMs: number) =>
  `Abandoned task ${describeTask(t)}: still running ${graceMs} ms after the drain deadline.`;

export const terminusMissing = () =>
  `WorkerPoolHealthIndicator needs @nestjs/terminus's HealthIndicatorService: import TerminusModule ` +
  `in the module that provides WorkerPoolHealthIndicator (imports: [TerminusModule]).`;

export const autoscaleScheduleMissing = (pool: string) =>
  `Pool "${pool}" has autoscale options, but @nestjs/schedule could not be loaded. Install it (npm i @nestjs/schedule) and import ScheduleModule.forRoot() in your app module.`;

export const autoscaleRegistryMissing = (pool: string) =>
  `Pool "${pool}" has autoscale options, but SchedulerRegistry is not available. Import ScheduleModule.forRoot() in your app module.`;

export const autoscaleBadCron = (pool: string, cron: string, error: unknown) =>
  `Pool "${pool}": autoscale.cron "${cron}" is not a valid cron expression (${String(error)}).`;

export const uplotMissing = () =>
  'WorkerPoolDashboardModule draws its charts with uPlot, which could not be loaded. Install it: npm i uplot';

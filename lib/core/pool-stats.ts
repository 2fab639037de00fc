import type { HandlerRegistry } from './handler-registry.js';
import { LatencyRecorder } from './latency.js';
import { type ThroughputMeter, now } from './load-meter.js';
import type { Outcomes } from './outcomes.js';
import type { Scheduler } from './scheduler.js';
import type { AutoscaleReport, LaneStats, PoolState, PoolStats, ThreadStats } from './stats.js';

/** What a pool's figures are read from. */
export interface StatsSources {
  state: PoolState;
  scheduler: Scheduler;
  outcomes: Outcomes;
  handlers: HandlerRegistry;
  throughput: ThroughputMeter;
  /** An attached autoscaler's report, and thread mode's per-thread figures, if any. */
  autoscale: (() => AutoscaleReport) | undefined;
  threads: ((lanes: LaneStats[]) => ThreadStats[]) | undefined;
}

/** A snapshot of the pool (see PoolStats). Reads one clock value; costs nothing between calls. */
export function collectStats(src: StatsSources): PoolStats {
  const { laneSet, sessionTable, work, loops, lifecycle, admission } = src.scheduler;
  const at = now();
  loops.accepted.checkpoint(work.lastTaskId + 1, at);
  let busyMs = lifecycle.retiredBusyMs;
  const lanes = laneSet.all().map((l) => {
    const laneBusy = l.busy.busyMs(at);
    busyMs += laneBusy;
    const age = at - l.createdAt;
    return {
      id: l.id,
      queued: l.queued,
      running: l.running,
      concurrency: l.concurrency,
      retiring: l.removed,
      busyMs: laneBusy,
      utilization: age > 0 ? Math.min(1, laneBusy / (age * l.concurrency)) : 0,
    };
  });
  const oldest = work.oldestQueuedId();
  const finished =
    src.outcomes.counts.completed + src.outcomes.counts.failed + src.outcomes.counts.timedOut;
  const [last1s, last10s, last60s] = src.throughput.rates(at, finished, [1_000, 10_000, 60_000]);
  const recorders = [...src.handlers.entries()].flatMap((e) =>
    e.latency === undefined ? [] : [e.latency],
  );
  return {
    state: src.state,
    lanes,
    queued: work.queued,
    running: loops.running,
    activeSessions: sessionTable.active,
    oldestWaitMs: oldest === undefined ? 0 : loops.accepted.ageOf(oldest, at),
    busyMs,
    retrying: loops.delayed.size,
    batching: work.batched,
    rateLimited: work.limits.parked,
    lateTasks: loops.late.size,
    overdueTasks: loops.overdue(at),
    ...(src.autoscale === undefined ? {} : { autoscale: src.autoscale() }),
    ...(src.threads === undefined ? {} : { threads: src.threads(lanes) }),
    latency: LatencyRecorder.merge(recorders),
    recentLatency: LatencyRecorder.mergeRecent(recorders, at),
    throughput: { last1s, last10s, last60s },
    types: Object.fromEntries(
      [...src.handlers.entries()].map((e) => [
        e.type,
        e.latency === undefined
          ? { ...e.counts }
          : { ...e.counts, latency: LatencyRecorder.merge([e.latency]) },
      ]),
    ),
    waiting: admission.waiting,
    ...src.outcomes.counts,
  };
}

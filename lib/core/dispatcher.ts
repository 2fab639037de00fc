import type { Observable } from 'rxjs';
import type { BatchHandlerFn, BatchOptions } from './batch.js';
import { Drain } from './drain/drain.js';
import type { DrainReport } from './drain-report.js';
import { InvalidOptionError, PoolClosedError } from './errors.js';
import type { PoolEvent } from './events.js';
import { HandlerRegistry } from './handler-registry.js';
import { Intake } from './intake/intake.js';
import type { LaneListener } from './lanes/lane-lifecycle.js';
import { LaneSizing } from './lanes/lane-sizing.js';
import { StagedStart } from './lanes/staged-start.js';
import { ThroughputMeter } from './load-meter.js';
import { type PoolOptions, type ResolvedPoolOptions, resolvePoolOptions } from './options.js';
import { Outcomes } from './outcomes.js';
import { collectStats } from './pool-stats.js';
import { Scheduler } from './scheduler.js';
import { SelfWaitCheck } from './self-wait.js';
import type { AutoscaleReport, LaneStats, PoolState, PoolStats, ThreadStats } from './stats.js';
import type {
  BatchTask,
  DrainOptions,
  HandlerRegistration,
  SubmitOptions,
} from './submit-options.js';
import type { TaskHandlerFn } from './task.js';
import { TaskGroup } from './task-group.js';

const ACCEPTED: Promise<void> = Promise.resolve();

/** See `Dispatcher.sessionInfo`. */
export interface SessionInfo {
  sessionId: string;
  /** The lane of its work while active; else the lane the placement gives its next task. */
  laneId: number;
  /** It has work in the pool (queued, running, or waiting to retry). */
  active: boolean;
  /** Its tasks waiting behind the running one (or waiting for a lane slot). */
  queued: number;
  /** One of its tasks runs now (or waits out a retry backoff, which holds the session). */
  running: boolean;
}

function checkSessionId(sessionId: unknown): string {
  if (typeof sessionId !== 'string' || sessionId.length === 0)
    throw new InvalidOptionError('sessionId', sessionId, 'a non-empty string');
  return sessionId;
}

// One shared executor hands submit() its resolvers: no closure allocated per task.
const captured = {
  resolve: undefined as unknown as (value: unknown) => void,
  reject: undefined as unknown as (reason: unknown) => void,
};
function capture(resolve: (value: never) => void, reject: (reason: unknown) => void): void {
  captured.resolve = resolve as (value: unknown) => void;
  captured.reject = reject;
}

/** A task of submitMany as plain data: each field (and each option) read exactly once. */
function readOnce(t: BatchTask): BatchTask {
  if (t === null || typeof t !== 'object')
    throw new InvalidOptionError('tasks[i]', t, 'an object { type, payload, options? }');
  const { type, payload, options } = t;
  return {
    type,
    payload,
    options: options !== null && typeof options === 'object' ? { ...options } : options,
  };
}

/**
 * The pool's public face: accepts tasks, reports on them, resizes, drains.
 * Every accepted task settles exactly once: completed, failed or cancelled.
 */
export class Dispatcher {
  readonly options: ResolvedPoolOptions;
  private readonly handlers: HandlerRegistry;
  /** The engine: lanes, sessions, waiting work, run loops (see scheduler.ts). */
  private readonly scheduler: Scheduler;
  private readonly intake: Intake;
  private readonly outcomes: Outcomes;
  private state: PoolState = 'created';
  private draining: Promise<DrainReport> | undefined;
  private autoscaleReport: (() => AutoscaleReport) | undefined;
  private threadsReport: ((lanes: LaneStats[]) => ThreadStats[]) | undefined;
  private readonly throughput = new ThroughputMeter();
  private drainer: Drain | undefined;
  private readonly staging: StagedStart;
  private readonly sizing: LaneSizing;

  constructor(options?: PoolOptions) {
    const o = (this.options = resolvePoolOptions(options));
    this.outcomes = new Outcomes(o);
    const engine = (this.scheduler = new Scheduler(o, this.outcomes));
    const selfWait = o.checkSelfWait ? new SelfWaitCheck() : undefined;
    this.handlers = new HandlerRegistry(engine.work.limits, o.context, selfWait);
    this.intake = new Intake(
      o,
      this.handlers,
      selfWait,
      engine.admission,
      engine.sessionTable,
      engine.work,
      engine.loops,
      this.outcomes,
    );
    this.sizing = new LaneSizing(
      engine.laneSet,
      engine.lifecycle,
      this.outcomes,
      o.maxLanes,
      selfWait,
    );
    this.staging = new StagedStart(
      o.stagedStart,
      o.lanes,
      () => engine.laneSet.byId.size,
      () => void this.sizing.grow(1),
      () => {
        if (this.state === 'starting') this.state = 'running';
      },
    );
    engine.lifecycle.add(this.staging.first);
    if (o.rateLimit !== undefined) engine.work.limits.pool = engine.work.limits.create(o.rateLimit);
  }

  get accepting(): boolean {
    return this.state === 'created' || this.state === 'starting' || this.state === 'running';
  }

  /** A batch handler: called with up to `batch.maxSize` tasks at once (see `BatchHandlerFn`). */
  registerHandler<P, R>(
    type: string,
    handler: BatchHandlerFn<P, R>,
    options: HandlerRegistration & { batch: BatchOptions },
  ): void;
  /** `options` may be just the origin, as a string, for error messages. */
  registerHandler<P, R>(
    type: string,
    handler: TaskHandlerFn<P, R>,
    options?: string | HandlerRegistration,
  ): void;
  registerHandler(
    type: string,
    handler: TaskHandlerFn | BatchHandlerFn,
    options?: string | HandlerRegistration,
  ): void {
    this.handlers.register(type, handler as TaskHandlerFn, options);
  }

  handlerTypes(): string[] {
    return this.handlers.types();
  }

  /** Starts running tasks; tasks submitted before are queued and start now. */
  start(): void {
    if (this.state !== 'created') return;
    this.state = 'running';
    this.scheduler.loops.start();
    if (!this.staging.active) return;
    this.state = 'starting';
    this.staging.begin();
  }

  /** Runs a task and resolves with its handler's result (or rejects with its error). */
  submit<R = unknown, P = unknown>(type: string, payload: P, options?: SubmitOptions): Promise<R> {
    const promise = new Promise<R>(capture);
    const resolve = captured.resolve;
    const reject = captured.reject;
    try {
      this.intake.accept(type, payload, options, resolve, reject)?.catch(reject);
    } catch (error) {
      reject(error);
    }
    return promise;
  }

  /**
   * Queues a task nobody awaits; resolves once it is accepted. A failure of the task
   * itself goes to `onUnhandledFailure`.
   */
  enqueue<P = unknown>(type: string, payload: P, options?: SubmitOptions): Promise<void> {
    try {
      return this.intake.accept(type, payload, options, undefined, undefined) ?? ACCEPTED;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Several tasks in one call, accepted together or not at all: if the whole batch does not
   * fit the queue limits now, it is refused with `QueueFullError` (it never waits). Resolves,
   * once all have settled, with each task's settlement in order.
   */
  submitMany(tasks: ReadonlyArray<BatchTask>): Promise<PromiseSettledResult<unknown>[]> {
    let list: BatchTask[];
    try {
      if (!Array.isArray(tasks))
        throw new InvalidOptionError('tasks', tasks, 'an array of { type, payload, options? }');
      // Each field read once: what was checked is what is submitted (getters may change).
      list = tasks.map(readOnce);
      for (const t of list)
        this.intake.accept(t.type, t.payload, t.options, undefined, undefined, true);
      // Room for the whole list now, in the pool and in each of its sessions.
      const refusal = this.scheduler.admission.roomFor(list.map((t) => t.options?.sessionId));
      if (refusal !== undefined) {
        this.outcomes.counts.rejected += list.length;
        throw refusal;
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.allSettled(list.map((t) => this.submit(t.type, t.payload, t.options)));
  }

  /** An error group: see `TaskGroup`. */
  group(): TaskGroup {
    return new TaskGroup(this);
  }

  /** Adds a lane, up to maxLanes; returns its id. */
  addLane(): number {
    this.staging.end();
    return this.sizing.add();
  }

  /** Removes a lane; its waiting sessions move at once, its running tasks finish first. */
  removeLane(laneId: number): Promise<void> {
    this.staging.end();
    return this.sizing.remove(laneId);
  }

  /** Grows or shrinks to `lanes`; removes the highest lane ids first. Resolves when removed lanes are gone. */
  resize(lanes: number): Promise<void> {
    this.staging.end();
    return this.sizing.resize(lanes);
  }

  /**
   * Stops accepting, lets queued and running tasks finish, and resolves with a report.
   * At `deadlineMs`, tasks still queued are cancelled (callers get `TaskCancelledError`)
   * and running ones are awaited. Calling it again returns the same drain; a deadline (or an
   * abandonment: deadline + graceMs) sooner than the one in force brings it forward, so a
   * shutdown bounds a drain begun without a deadline.
   */
  drain(deadlineMs = Infinity, options: DrainOptions = {}): Promise<DrainReport> {
    const graceMs = Drain.check(deadlineMs, options);
    if (this.draining !== undefined) {
      this.drainer!.bound(deadlineMs, graceMs);
      return this.draining;
    }
    this.staging.end();
    this.state = 'draining';
    this.intake.refusing = 'draining';
    if (this.outcomes.watched) this.outcomes.publish({ type: 'drain-started', deadlineMs });
    const engine = this.scheduler;
    engine.admission.refuseAll(new PoolClosedError('draining'));
    engine.loops.start();
    this.drainer = new Drain(
      engine.loops,
      engine.cutoff,
      engine.sessionTable,
      engine.work.limits,
      this.outcomes,
    );
    engine.loops.drain = this.drainer;
    this.draining = this.drainer.run(deadlineMs, graceMs, () => {
      this.state = 'stopped';
      this.intake.refusing = 'stopped';
    });
    return this.draining;
  }

  stats(): PoolStats {
    return collectStats({
      state: this.state,
      scheduler: this.scheduler,
      outcomes: this.outcomes,
      handlers: this.handlers,
      throughput: this.throughput,
      autoscale: this.autoscaleReport,
      threads: this.threadsReport,
    });
  }

  /**
   * The lane an active session's tasks are on (queued, running or waiting to retry), or
   * undefined when the pool holds no work of it: its next task then goes where
   * `sessionInfo(sessionId).laneId` says.
   */
  laneOf(sessionId: string): number | undefined {
    const place = this.scheduler.sessionTable.placeOf(checkSessionId(sessionId));
    return place.active ? place.laneId : undefined;
  }

  /**
   * One session as the pool sees it now: its lane (where its work is, or where its next task
   * would go when it has none), its tasks waiting, and whether one runs. Creates no state.
   */
  sessionInfo(sessionId: string): SessionInfo {
    const place = this.scheduler.sessionTable.placeOf(checkSessionId(sessionId));
    return { sessionId, ...place };
  }

  /**
   * Lifecycle events. Nothing is built for them while nobody subscribes. The stream
   * completes when a drain finishes. A subscriber that throws (or an operator of its pipe,
   * when it has no error callback) does not stop the pool, the other subscribers or its own
   * subscription: the error goes to the `onSubscriberError` option as an
   * `EventSubscriberError`, not to rxjs's unhandled-error report (which rethrows on a timer).
   * Streams made with rxjs creation functions (`merge(events$, x)`) are rxjs's own: guard
   * their subscribers yourself.
   */
  get events$(): Observable<PoolEvent> {
    return this.outcomes.events$;
  }

  /**
   * Only the events about the pool itself: lanes added, retiring and removed, resizes,
   * scaling decisions, drain. Unlike `events$`, watching it builds no per-task event, so a
   * dashboard can follow a pool under load for free. Completes when a drain finishes.
   */
  get poolEvents$(): Observable<PoolEvent> {
    return this.outcomes.poolEvents$;
  }

  /** Lets an autoscaler show its state and decisions in `stats().autoscale`. */
  reportAutoscale(report: () => AutoscaleReport): void {
    this.autoscaleReport = report;
  }

  /** Lets thread lanes show per-thread figures in `stats().threads`. */
  reportThreads(report: (lanes: LaneStats[]) => ThreadStats[]): void {
    this.threadsReport = report;
  }

  /** Tells `listener` of the lanes there are, then of each lane added, removed and gone. */
  watchLanes(listener: LaneListener): void {
    this.scheduler.lifecycle.listener = listener;
    for (const id of this.scheduler.laneSet.byId.keys()) listener.added(id);
  }

  /** Publishes an event on `events$`; for extensions such as the autoscaler. */
  publish(event: PoolEvent): void {
    this.outcomes.publish(event);
  }
}

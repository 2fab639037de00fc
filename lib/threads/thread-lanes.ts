import type { Dispatcher } from '../core/dispatcher.js';
import { TaskTimeoutError } from '../core/errors.js';
import type { LaneListener } from '../core/lanes/lane-lifecycle.js';
import type { LaneStats, ThreadStats } from '../core/stats.js';
import type { Task } from '../core/task.js';
import { threadEntryUrl } from './entry-url.js';
import { SessionMemory } from './session-memory.js';
import { InFlight, LaneThread, type LaneThreadOwner, type ThreadSpawn } from './lane-thread.js';
import { ThreadStartError, WorkerThreadExitedError } from './thread.errors.js';
import {
  type ResolvedThreadOptions,
  type ThreadLanesOptions,
  resolveThreadOptions,
} from './thread-options.js';
import type { ReportedHandler } from './thread-protocol.js';

/** First delay before a lane whose thread failed to boot tries again; it doubles up to the max. */
const RESPAWN_MS = 500;
const MAX_RESPAWN_MS = 30_000;

// One shared executor hands each InFlight its resolvers: no closure per task.
let pending: InFlight;
function capture(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
  pending.resolve = resolve;
  pending.reject = reject;
}

/**
 * Thread mode for a Dispatcher: one worker thread per lane. The dispatcher keeps every
 * queue and the ordering; each task type the threads report is registered as a proxy
 * handler that runs the task in the thread of the lane the scheduler chose. A cluster task
 * (its payload a DurableTask) is unwrapped on the way: the thread gets the enqueued payload
 * and the queue's attempt, redelivered and job id (see LaneThread.send).
 *
 * Invariant: every lane (live or retiring) has exactly one current thread in `threads`;
 * a thread that ends unasked, or overran a timeout, is replaced before its tasks are
 * settled or sent again, so a lane never runs without one.
 */
export class ThreadLanes implements LaneListener, LaneThreadOwner {
  private readonly options: ResolvedThreadOptions;
  private readonly spawn: ThreadSpawn;
  private readonly threads = new Map<number, LaneThread>();
  /** Which thread last ran each session (main-thread side: placement has one owner). */
  readonly memory = new SessionMemory();
  /** Threads of removed lanes, closing. */
  private readonly closing = new Set<LaneThread>();
  private readonly replaced = new Map<number, number>();
  private closed = false;
  /** Lanes whose threads failed to boot in a row, and the timers that will try again. */
  private readonly bootFailures = new Map<number, number>();
  private readonly respawns = new Map<number, NodeJS.Timeout>();
  /** Every thread started and not yet exited, current or not. */
  private readonly alive = new Set<LaneThread>();
  /** The pool instrument's trace context reader, if it propagates one (see docs/tracing.md). */
  private readonly traceparent: (() => string | undefined) | undefined;

  constructor(
    private readonly dispatcher: Dispatcher,
    options: ThreadLanesOptions,
    pool = 'default',
  ) {
    this.options = resolveThreadOptions(options);
    const instrument = dispatcher.options.instrument;
    this.traceparent = instrument?.traceparent?.bind(instrument);
    this.spawn = {
      entry: threadEntryUrl(),
      resourceLimits: this.options.resourceLimits,
      data: {
        module: this.options.href,
        exportName: this.options.exportName,
        pool,
        logLevels: this.options.logLevels,
      },
    };
  }

  /**
   * Starts a thread per lane, waits until they have booted the module, and registers the
   * task types they report. Call before `dispatcher.start()`.
   */
  async start(): Promise<void> {
    this.dispatcher.watchLanes(this);
    let handlers: ReportedHandler[];
    try {
      const ready = await Promise.all([...this.threads.values()].map((t) => t.ready));
      handlers = ready[0].handlers;
    } catch (error) {
      await this.close();
      throw new ThreadStartError(
        this.options.href,
        (error as Error)?.message ?? String(error),
        error,
      );
    }
    if (handlers.length === 0) {
      await this.close();
      throw new ThreadStartError(
        this.options.href,
        `no @TaskHandler method of pool "${this.spawn.data.pool}" was found in it`,
      );
    }
    try {
      handlers.forEach((h, index) => this.register(h, index));
    } catch (error) {
      await this.close(); // e.g. a main-thread handler of the same type: no thread left behind
      throw error;
    }
    this.dispatcher.reportThreads((lanes) => this.stats(lanes));
  }

  private register(h: ReportedHandler, index: number): void {
    const retry = (typeof h.retry === 'number' ? { attempts: h.retry } : h.retry) as
      object | undefined;
    this.dispatcher.registerHandler(
      h.type,
      (_payload: unknown, ctx) => this.run(ctx as Task, index),
      {
        origin: h.origin,
        // A payload that cannot be cloned is never retried: see WorkerPoolError.retryable.
        retry,
        timeoutMs: h.timeoutMs,
        overlapOnTimeout: h.overlapOnTimeout,
        priority: h.priority,
        rateLimit: h.rateLimit,
        // Every stop (timeout, caller, drain deadline) reaches the thread's ctx.signal.
        onAbort: (ctx, reason) => this.aborted(ctx as Task, reason),
      },
    );
  }

  /** The proxy handler: the task goes to its lane's thread; its promise settles with the result. */
  private run(task: Task, typeIndex: number): Promise<unknown> {
    pending = new InFlight(task, typeIndex);
    const promise = new Promise(capture);
    const rec = pending;
    // Called inside the instrument's run: the active context is this attempt's.
    if (this.traceparent !== undefined) rec.traceparent = this.traceparent();
    this.threads.get(task.laneId)!.send(rec);
    // A retry whose caller has aborted starts aborted (see Task.resetSignal).
    const reason = task.abortReason;
    if (reason !== undefined) this.stop(rec, reason);
    return promise;
  }

  // A task was told to stop: found among what the threads run (a scan, but aborts are rare
  // and no task pays for a listener).
  private aborted(task: Task, reason: unknown): void {
    for (const thread of [...this.threads.values(), ...this.closing]) {
      for (const rec of thread.inFlight.values())
        if (rec.task === task) return this.stop(rec, reason);
    }
  }

  private stop(rec: InFlight, reason: unknown): void {
    const thread = rec.thread;
    if (thread === undefined || !thread.inFlight.has(rec.seq)) return;
    thread.abort(rec, reason);
    if (!(reason instanceof TaskTimeoutError)) return;
    // Hard preemption: a handler still running after the grace period loses its thread.
    rec.preempt = setTimeout(() => {
      if (rec.thread!.inFlight.get(rec.seq) === rec)
        rec.thread!.terminate(`task ${rec.task.taskId} timed out`);
    }, this.options.graceMs);
  }

  added(laneId: number): void {
    if (this.closed) return; // the pool has drained: nothing runs on a lane any more
    this.threads.set(laneId, this.startThread(laneId));
  }

  // Its thread finishes what it runs; gone() closes it. Sessions that move are told they
  // arrived by the memory, which follows where tasks run, not the ring.
  removed(_laneId: number): void {}

  gone(laneId: number): void {
    clearTimeout(this.respawns.get(laneId));
    this.respawns.delete(laneId);
    const thread = this.threads.get(laneId);
    if (thread === undefined) return;
    this.threads.delete(laneId);
    this.closing.add(thread);
    void thread.close(this.options.closeTimeoutMs).then(() => this.closing.delete(thread));
  }

  /** A thread ended: replace it if it was its lane's, settle or resend what it had in flight. */
  ended(thread: LaneThread, code: number, error: unknown): void {
    this.alive.delete(thread);
    const current = this.threads.get(thread.laneId) === thread;
    let next: LaneThread | undefined;
    if (current && !this.closed) {
      if (thread.booted) next = this.replace(thread.laneId);
      else this.respawnLater(thread.laneId);
    }
    const why =
      thread.endedBy ??
      (error !== undefined
        ? `it failed: ${(error as Error)?.message ?? String(error)}`
        : `it exited with code ${code}`);
    for (const rec of thread.inFlight.values()) {
      clearTimeout(rec.preempt);
      if (next !== undefined && !thread.hadStarted(rec)) next.send(rec);
      else if (rec.task.abortReason instanceof TaskTimeoutError) rec.reject(rec.task.abortReason);
      else rec.reject(new WorkerThreadExitedError(rec.task.taskId, thread.laneId, why, error));
    }
    thread.inFlight.clear();
  }

  private replace(laneId: number): LaneThread {
    const next = this.startThread(laneId);
    this.threads.set(laneId, next);
    this.replaced.set(laneId, (this.replaced.get(laneId) ?? 0) + 1);
    return next;
  }

  // A thread that never booted (its module throws at startup): try again after a backoff,
  // so a broken module does not spin; meanwhile the lane's tasks fail fast.
  private respawnLater(laneId: number): void {
    const failures = (this.bootFailures.get(laneId) ?? 0) + 1;
    this.bootFailures.set(laneId, failures);
    const delay = Math.min(RESPAWN_MS * 2 ** (failures - 1), MAX_RESPAWN_MS);
    this.respawns.set(
      laneId,
      setTimeout(() => {
        this.respawns.delete(laneId);
        if (!this.closed && this.threads.has(laneId)) this.replace(laneId);
      }, delay),
    );
  }

  /** Ends every thread: call after the dispatcher has drained. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.respawns.values()) clearTimeout(timer);
    this.respawns.clear();
    const all = [...this.threads.values(), ...this.closing];
    this.threads.clear();
    await Promise.all(all.map((t) => t.close(this.options.closeTimeoutMs)));
  }

  /** Figures per lane thread; `lanes` are the dispatcher's lane stats of the same moment. */
  stats(lanes: readonly LaneStats[]): ThreadStats[] {
    return [...this.threads.values()].map((t) => ({
      laneId: t.laneId,
      threadId: t.threadId,
      utilization: lanes.find((l) => l.id === t.laneId)?.utilization ?? 0,
      heapUsed: t.heapUsed,
      heapLimit: t.heapLimit,
      inFlight: t.inFlight.size,
      replaced: this.replaced.get(t.laneId) ?? 0,
    }));
  }

  /** Threads running now, including those of removed lanes still closing: 0 after `close()`. */
  get liveThreads(): number {
    return this.alive.size;
  }

  /** The current thread of each lane, by lane id (for tests and diagnostics). */
  threadIds(): Map<number, number> {
    return new Map([...this.threads].map(([id, t]) => [id, t.threadId]));
  }

  private startThread(laneId: number): LaneThread {
    const thread = new LaneThread(laneId, this.spawn, this);
    this.alive.add(thread);
    thread.ready.then(
      () => this.bootFailures.delete(laneId),
      () => undefined, // reported through ended()
    );
    return thread;
  }
}

/**
 * Model-based harness for the task policies (issue #6): priority, retry, timeouts (with and
 * without overlapOnTimeout), rate limits, onSettled callbacks and caller aborts of queued,
 * running and retrying tasks, under fake timers *and* a fake clock (performance.now), which
 * the rate limiters read.
 *
 * A few handler types (`t0`..`t2`) are registered with random handler-level policies; each
 * task may override them. What a handler does is part of the generated command, per attempt:
 * return or throw at once, finish after a number of fake milliseconds (ignoring ctx.signal),
 * or hold until a Release command (optionally giving up as soon as ctx.signal aborts). The
 * harness never uses timers of its own (slow handlers are completed by the harness as the
 * fake clock passes their due time), so `jest.getTimerCount()` counts the engine's timers only.
 * Time advances 1 ms at a time with the microtask queue emptied in between, so a handler that
 * finishes before its timeout is never reported as timed out by a fake-timer artefact.
 *
 * The model computes each task's effective policy itself (handler options merged with the
 * task's), decides every failed attempt (retry or not, and the exact backoff: jitter is
 * always off) and compares with what the engine does. Runs are either 'priority' runs (one
 * lane, no rate limits, work piling up before start(), where the priority check applies) or
 * 'mixed' runs (one or two lanes, pool and per-type rate limits, everything at once).
 *
 * Mixed runs may also add and remove lanes (ResizeCmd), with either rebalance mode, so
 * retries, late handlers and parked work cross lane removals; the checks stay the same, and
 * every removeLane() promise must have resolved by the end of the drain.
 *
 * Not covered here: abandonment (the final drain uses graceMs: Infinity) and bounded queues
 * (the contract suite, pool-model.ts, covers both without policies: its drains use a random
 * graceMs).
 *
 * Checked
 * - at each attempt start: attempt numbers 1, 2, ... with a retry only after a failure the
 *   policy retries, never before failure time + backoff (measured from the late handler's end
 *   when the timed-out attempt holds its session); never while another attempt of the session
 *   runs, except a timed-out late handler of an overlapOnTimeout task; never before every
 *   earlier task of its session has settled (its onSettled called, if it has one) and, unless
 *   overlapOnTimeout, its late handler returned; never after its caller's abort withdrew it,
 *   nor after the drain deadline; ctx.signal not aborted unless the caller aborted; at most
 *   laneConcurrency running attempts per lane (late handlers free their slot);
 * - rate limits: for every limiter (pool and per type), any window [t_i, t_j] between two
 *   starts holds at most tasks + (t_j - t_i) * tasks / intervalMs starts;
 * - priority, a weaker but exact property (one lane, no rate limits, and only while the
 *   takes plus withdrawals so far are at most AGING_LIMIT, so the starvation rule cannot have
 *   applied yet): a task that starts never has lower priority than a task that was ready
 *   (head of its session, retry backoff over) when the previous command ended and has still
 *   not started; sessions that had a queued task withdrawn are left out (the session waits at
 *   its old head's priority). FIFO among equal priorities and the aging rotation itself are
 *   not checked;
 * - timeouts: an attempt times out exactly at start + timeoutMs if its handler had not
 *   finished by then (ctx.signal aborts with that TaskTimeoutError unless it was aborted
 *   before), and never when it finished earlier; a handler that gives up inside the same
 *   clock step as its timeout (its signal aborted by the drain deadline timer just before)
 *   counts as timed out, as the engine sees the timeout first;
 * - after every command: stats() accepted, completed, failed, timedOut, cancelled, rejected,
 *   retried, deadLettered, queued, running, retrying and lateTasks equal the model's;
 * - at the end (drain with a random deadline; held handlers released in random order): every
 *   accepted task settled exactly once (submit: its promise; enqueue: onUnhandledFailure for
 *   failures only) with the outcome its attempts imply (the handler's exact value or error,
 *   TaskTimeoutError for its task, TaskCancelledError 'aborted' / 'shutdown'); onSettled called
 *   exactly once with the same outcome and value (a timeout's at the timeout itself);
 *   onDeadLetter called exactly for the dead-lettered tasks with their last error; every
 *   handler invocation (late ones included) ended before drain resolved; a submit after the
 *   drain began is refused and counted; no timers left.
 */
import { caller, callerId } from './caller-context.js';
import { jest } from '@jest/globals';
import fc from 'fast-check';
import {
  Dispatcher,
  PoolClosedError,
  type RateLimit,
  TaskCancelledError,
  type TaskContext,
  type TaskOutcome,
  TaskTimeoutError,
} from '../../lib/core/index.js';
import { AGING_LIMIT } from '../../lib/core/ready-queue.js';
import { quiesce } from './pool-model.js';

/** See regressions.spec.ts; while true the model tolerates the defect so the rest is checked. */
export const POLICY_DEFECTS = {
  /**
   * The AbortController is per task, not per attempt: once an attempt timed out (or the
   * caller aborted), every retry of the task starts with ctx.signal already aborted.
   */
  retryStartsAborted: false,
  /**
   * A caller's abort while its timed-out task waits for the late handler before its retry
   * (state Delayed, not yet in the delayed map) is lost: the retry runs anyway.
   */
  abortLostWhileRetryWaitsForLateHandler: false,
  /**
   * drain() resolves while a timed-out handler still runs when that task was the last work
   * (settle() checks for idle before the late handler is recorded).
   */
  drainIgnoresLastLateHandler: false,
  /**
   * With overlapOnTimeout and retries one task can have several late handlers, but the
   * scheduler tracks one per task (`late` is keyed by task, `task.zombie` is one promise):
   * when an earlier one returns it forgets the later ones (lateTasks undercounts, drain()
   * does not wait for them).
   */
  oneLateHandlerPerTask: false,
  /**
   * A retry cancelled because the drain deadline passed (Scheduler.next -> hooks.expired)
   * never triggers the drain's idle check: if it was the last work, drain() never resolves.
   */
  drainHangsAfterExpiredRetry: false,
  /**
   * A task withdrawn by its caller while a rate limit holds it back stays parked in the
   * limiter: stats().rateLimited counts it and the limiter's timer outlives drain().
   */
  withdrawnStaysParked: false,
};

/** How often each check really applied, over all runs (printed with FC_POLICY_COVERAGE=1). */
export const coverage: Record<string, number> = {};
const seen = (what: string) => void (coverage[what] = (coverage[what] ?? 0) + 1);

export const SESSIONS = ['a', 'b', 'c'] as const;
type SessionId = (typeof SESSIONS)[number] | undefined;
export const TYPES = ['t0', 't1', 't2'] as const;

export type RetryIfTag = 'all' | 'errors-only' | 'not-timeouts';
export interface RetrySpec {
  attempts: number;
  delayMs: number;
  factor: number;
  maxDelayMs: number;
  retryIf: RetryIfTag;
}
export interface PolicySpec {
  priority?: number;
  retry?: RetrySpec;
  timeoutMs?: number;
  overlapOnTimeout?: boolean;
}
export interface TypeSpec extends PolicySpec {
  rateLimit?: RateLimit;
}

export type Behaviour =
  | { kind: 'ok' | 'ok-async' | 'throw-error' | 'throw-value' | 'reject-error' | 'reject-value' }
  | { kind: 'slow'; ms: number; ok: boolean }
  | { kind: 'hold'; abortable: boolean };

export interface TaskSpec {
  api: 'submit' | 'enqueue';
  session: SessionId;
  type: number;
  policy: PolicySpec;
  /** What attempt 1, 2, 3 do. */
  attempts: [Behaviour, Behaviour, Behaviour];
  signal: boolean;
  onSettled: boolean;
}

export interface PolicyConfig {
  lanes: number;
  laneConcurrency: number;
  rateLimit?: RateLimit;
  types: [TypeSpec, TypeSpec, TypeSpec];
  startAtOnce: boolean;
  finalDeadline: number;
  deadlineFirst: boolean;
  /** Mixed runs: lanes may be added and removed, sessions follow the ring per `rebalance`. */
  resizable?: boolean;
  rebalance?: 'when-idle' | 'between-tasks';
}

interface Effective {
  attempts: number;
  delayMs: number;
  factor: number;
  maxDelayMs: number;
  retryIf: RetryIfTag | undefined;
  timeoutMs: number | undefined;
  overlap: boolean;
  priority: number;
}

function effective(type: TypeSpec, task: PolicySpec): Effective {
  const base = {
    attempts: 1,
    delayMs: 100,
    factor: 2,
    maxDelayMs: 30_000,
    retryIf: undefined as RetryIfTag | undefined,
  };
  // A task's retry object without retryIf keeps the handler's predicate (the engine merges).
  const own: Partial<RetrySpec> = task.retry === undefined ? {} : { ...task.retry };
  if (own.retryIf === 'all') delete own.retryIf;
  const r = { ...base, ...(type.retry ?? {}), ...own };
  if (r.retryIf === 'all') r.retryIf = undefined;
  return {
    ...r,
    timeoutMs: task.timeoutMs ?? type.timeoutMs,
    overlap: task.overlapOnTimeout ?? type.overlapOnTimeout ?? false,
    priority: task.priority ?? type.priority ?? 0,
  };
}

function retryIfHolds(tag: RetryIfTag | undefined, error: unknown): boolean {
  if (tag === undefined || tag === 'all') return true;
  if (tag === 'errors-only') return error instanceof Error;
  return !(error instanceof TaskTimeoutError);
}

function retryIfFn(tag: RetryIfTag, calls: Array<{ error: unknown; attempt: number }>) {
  return (error: unknown, ctx: TaskContext) => {
    calls.push({ error, attempt: ctx.attempt });
    return retryIfHolds(tag, error);
  };
}

interface Attempt {
  n: number;
  startAt: number;
  startSeq: number;
  laneId: number;
  signal: AbortSignal;
  /** The handler's promise (or throw) has settled. */
  ended: boolean;
  endAt: number;
  /** ctx.signal aborted with TaskTimeoutError: the attempt failed at that moment. */
  timedOut: boolean;
  timeoutError: TaskTimeoutError | undefined;
  timedOutAt: number;
  result: { ok: boolean; value: unknown } | undefined;
  /** Decided once the attempt is over (ended, or timed out). */
  retry: boolean | undefined;
  hold: { resolve(v: unknown): void; reject(e: unknown): void } | undefined;
  slowDue: number | undefined;
  /** ctx.signal was aborted before this attempt could time out (at start, or by the caller). */
  preAborted: boolean;
  /** Ended inside a clock step (its handler gave up on an abort fired by a timer). */
  endedInStep: boolean;
  /** Which clock step (see `steps`) it ended in. */
  endStep: number;
}

type Settlement = { kind: 'resolved' | 'rejected' | 'unhandled'; value: unknown };

class Rec {
  readonly attempts: Attempt[] = [];
  settlements: Settlement[] = [];
  onSettledCalls: Array<{ outcome: TaskOutcome; value: unknown; at: number }> = [];
  deadLetters: Array<{ error: unknown; attempts: number }> = [];
  controller: AbortController | undefined;
  callerAborted = false;
  /** The caller's abort withdrew it (queued or waiting to retry). */
  withdrawn = false;
  withdrawnAtAttempt = 0;
  /** Cancelled by the drain deadline (queued or waiting to retry). */
  taskId = -1;
  /** Fake time from which a retry may start (Infinity while a holding late handler runs). */
  retryReadyAt = 0;
  readonly retryIfCalls: Array<{ error: unknown; attempt: number }> = [];
  /** When the retry's backoff timer was set (a 0 ms timer fires on the next clock step). */
  retryScheduledAt = 0;
  constructor(
    readonly id: number,
    readonly spec: TaskSpec,
    readonly policy: Effective,
  ) {}
  get session(): SessionId {
    return this.spec.session;
  }
  get last(): Attempt | undefined {
    return this.attempts[this.attempts.length - 1];
  }
  /** Over for its caller: the model knows its final outcome (or it was withdrawn). */
  get final(): boolean {
    if (this.withdrawn) return true;
    const a = this.last;
    if (a === undefined || a.retry === undefined) return false;
    return !a.retry;
  }
  /** Waiting out a retry (the attempt failed and the policy retries; not started again). */
  get retrying(): boolean {
    return !this.withdrawn && this.last?.retry === true;
  }
  get running(): Attempt | undefined {
    const a = this.last;
    return a !== undefined && !a.ended && !a.timedOut ? a : undefined;
  }
  toString(): string {
    return `#${this.id}(${this.spec.api} ${this.session ?? '-'} t${this.spec.type})`;
  }
}

export class PolicyHarness {
  readonly pool: Dispatcher;
  readonly tasks: Rec[] = [];
  readonly violations: string[] = [];
  readonly log: string[] = [];
  private seq = 0;
  private started: boolean;
  /** Fake clock at construction (jest.clearAllTimers() resets the fake clock too). */
  private readonly t0: number;
  /** Starts per limiter: 'pool' and each limited type. */
  private readonly startsBy = new Map<string, number[]>();
  private takes = 0;
  private withdrawals = 0;
  /** Tasks ready (for the priority check) at the end of the previous command. */
  private readyBefore: Rec[] = [];
  private readonly dirtySessions = new Set<string>();
  drainPromise: Promise<unknown> | undefined;
  drained = false;
  private drainDeadlineAt = Infinity;
  deadlineFired = false;
  private lateRefusal: { settled: unknown[] } | undefined;
  private readonly removals: Promise<void>[] = [];
  /** The priority check assumes one lane throughout. */
  private resized = false;
  /** A retry decided after the deadline (expired): see POLICY_DEFECTS.drainHangsAfterExpiredRetry. */
  private expiredRetry = false;
  private stuckDrain = false;
  /** Inside jest.advanceTimersByTime: timers fire one after another with no microtask between. */
  private inStep = false;
  /** Clock steps taken (each advances the fake timers by 1 ms). */
  private steps = 0;

  constructor(readonly cfg: PolicyConfig) {
    jest.clearAllTimers();
    this.t0 = performance.now();
    this.pool = new Dispatcher({
      lanes: cfg.lanes,
      laneConcurrency: cfg.laneConcurrency,
      rateLimit: cfg.rateLimit,
      ...(cfg.rebalance === undefined ? {} : { rebalance: cfg.rebalance }),
      onUnhandledFailure: (error, info) => this.onUnhandled(error, info),
      onDeadLetter: (error, info) => {
        const rec = this.tasks.find((t) => t.taskId === info.taskId);
        if (rec === undefined) return this.fail(`onDeadLetter for unknown task ${info.taskId}`);
        rec.deadLetters.push({ error, attempts: info.attempts });
      },
    });
    cfg.types.forEach((t, i) => {
      this.pool.registerHandler(
        TYPES[i],
        (payload: { id: number }, ctx: TaskContext) => this.runHandler(payload.id, ctx),
        {
          priority: t.priority,
          timeoutMs: t.timeoutMs,
          overlapOnTimeout: t.overlapOnTimeout,
          rateLimit: t.rateLimit,
          retry:
            t.retry === undefined
              ? undefined
              : {
                  attempts: t.retry.attempts,
                  delayMs: t.retry.delayMs,
                  factor: t.retry.factor,
                  maxDelayMs: t.retry.maxDelayMs,
                  jitter: false,
                  // Handler-level predicate: the task records nothing (calls checked per task).
                  retryIf:
                    t.retry.retryIf === 'all'
                      ? undefined
                      : (e: unknown) => retryIfHolds(t.retry!.retryIf, e),
                },
        },
      );
    });
    this.started = cfg.startAtOnce;
    if (cfg.startAtOnce) this.pool.start();
  }

  get now(): number {
    return performance.now() - this.t0;
  }

  private fail(message: string): void {
    this.violations.push(`[t=${this.now}] ${message}`);
  }

  // ------------------------------------------------------------ commands

  call(spec: TaskSpec): void {
    const type = this.cfg.types[spec.type];
    const rec = new Rec(this.tasks.length + 1, spec, effective(type, spec.policy));
    this.tasks.push(rec);
    const p = spec.policy;
    const options: Record<string, unknown> = {};
    if (spec.session !== undefined) options.sessionId = spec.session;
    if (p.priority !== undefined) options.priority = p.priority;
    if (p.timeoutMs !== undefined) options.timeoutMs = p.timeoutMs;
    if (p.overlapOnTimeout !== undefined) options.overlapOnTimeout = p.overlapOnTimeout;
    if (p.retry !== undefined) {
      options.retry = {
        attempts: p.retry.attempts,
        delayMs: p.retry.delayMs,
        factor: p.retry.factor,
        maxDelayMs: p.retry.maxDelayMs,
        jitter: false,
        ...(p.retry.retryIf === 'all'
          ? {}
          : { retryIf: retryIfFn(p.retry.retryIf, rec.retryIfCalls) }),
      };
    }
    if (spec.signal) {
      rec.controller = new AbortController();
      options.signal = rec.controller.signal;
    }
    if (spec.onSettled) {
      options.onSettled = (outcome: TaskOutcome, value: unknown) =>
        this.onSettled(rec, outcome, value);
    }
    const before = this.pool.stats().accepted;
    const promise = caller.run({ id: rec.id }, () =>
      spec.api === 'submit'
        ? this.pool.submit(TYPES[spec.type], { id: rec.id }, options)
        : this.pool.enqueue(TYPES[spec.type], { id: rec.id }, options),
    );
    const after = this.pool.stats().accepted;
    if (after !== before + 1)
      this.fail(`${rec} not accepted at once (accepted ${before} -> ${after})`);
    rec.taskId = after;
    this.log.push(`${rec} ${JSON.stringify(p)} ${spec.attempts.map((b) => b.kind).join('/')}`);
    if (spec.api === 'submit') {
      promise.then(
        (value) => rec.settlements.push({ kind: 'resolved', value }),
        (value) => rec.settlements.push({ kind: 'rejected', value }),
      );
    } else {
      promise.then(
        () => undefined,
        (e) => this.fail(`${rec}: enqueue refused with ${String(e)}`),
      );
    }
  }

  start(): void {
    this.pool.start();
    this.started = true;
    this.log.push('start');
  }

  /** Adds a lane (up to 3), or removes one of the live lanes (keeping one). */
  resize(pick: number, add: boolean): void {
    const live = this.pool.stats().lanes.filter((l) => !l.retiring);
    this.resized ||= add || live.length > 1;
    if (add && live.length < 3) {
      this.log.push(`addLane -> ${this.pool.addLane()}`);
    } else if (!add && live.length > 1) {
      const id = live[pick % live.length].id;
      this.log.push(`removeLane(${id})`);
      this.removals.push(
        this.pool.removeLane(id).then(
          () => undefined,
          (e) => this.fail(`removeLane(${id}) rejected with ${String(e)}`),
        ),
      );
    }
  }

  /** Held handler invocations, current and late, in a stable order. */
  held(): Array<{ rec: Rec; a: Attempt }> {
    const out: Array<{ rec: Rec; a: Attempt }> = [];
    for (const rec of this.tasks)
      for (const a of rec.attempts)
        if (a.hold !== undefined && a.slowDue === undefined && !a.ended) out.push({ rec, a });
    return out;
  }

  release(pick: number, ok: boolean): void {
    const list = this.held();
    const { rec, a } = list[pick % list.length];
    this.log.push(`release ${rec} attempt ${a.n} ${ok ? 'ok' : 'err'}`);
    const value = ok ? { released: rec.id, attempt: a.n } : new RangeError(`held ${rec.id}/${a.n}`);
    this.end(rec, a, ok, value);
    if (ok) a.hold!.resolve(value);
    else a.hold!.reject(value);
  }

  abortables(): Rec[] {
    return this.tasks.filter((t) => t.controller !== undefined && !t.callerAborted);
  }

  abort(pick: number): void {
    const list = this.abortables();
    const rec = list[pick % list.length];
    const wasQueued = !rec.final && !rec.retrying && rec.running === undefined;
    const waitsLate = rec.retrying && !rec.policy.overlap && rec.last!.timedOut && !rec.last!.ended;
    const wasRetrying = rec.retrying;
    const running = rec.running;
    const before = this.pool.stats().cancelled;
    const reason = new Error(`caller ${rec.id} gave up`);
    rec.callerAborted = true;
    if (running !== undefined) running.preAborted = true;
    rec.controller!.abort(reason);
    const dC = this.pool.stats().cancelled - before;
    seen(
      `abort: ${wasQueued ? 'queued' : wasRetrying ? (waitsLate ? 'retry waiting for late handler' : 'retrying') : running ? 'running' : 'settled'}`,
    );
    this.log.push(`abort ${rec}${dC ? ' (withdrawn)' : ''}`);
    const want = wasQueued || wasRetrying;
    const tolerated =
      POLICY_DEFECTS.abortLostWhileRetryWaitsForLateHandler && waitsLate && dC === 0;
    if (dC === 1) {
      if (!want) this.fail(`abort of ${rec} withdrew it although it was not waiting`);
      rec.withdrawn = true;
      rec.withdrawnAtAttempt = rec.attempts.length;
      this.withdrawals++;
      if (rec.session !== undefined) this.dirtySessions.add(rec.session);
    } else if (dC === 0) {
      if (want && !tolerated)
        this.fail(
          `abort of waiting ${rec} (${wasQueued ? 'queued' : 'retrying'}) did not withdraw it`,
        );
    } else this.fail(`abort of ${rec} changed cancelled by ${dC}`);
    if (running !== undefined && !(running.signal.aborted && running.signal.reason === reason)) {
      if (!(POLICY_DEFECTS.retryStartsAborted && running.signal.aborted))
        this.fail(`abort of running ${rec}: ctx.signal not aborted with the caller's reason`);
    }
  }

  /** Advances the fake clock by `ms`, 1 ms at a time, finishing slow handlers as they come due. */
  async tick(ms: number): Promise<void> {
    const prev = /^tick (\d+)$/.exec(this.log[this.log.length - 1] ?? '');
    if (prev !== null) this.log[this.log.length - 1] = `tick ${Number(prev[1]) + ms}`;
    else this.log.push(`tick ${ms}`);
    for (let i = 0; i < ms; i++) {
      const deadlineDue = !this.deadlineFired && this.now + 1 >= this.drainDeadlineAt;
      this.inStep = true;
      this.steps++;
      jest.advanceTimersByTime(1);
      this.inStep = false;
      if (deadlineDue) this.deadlineFired = true;
      await quiesce();
      this.timeouts();
      for (const rec of this.tasks) {
        for (const a of rec.attempts) {
          if (a.slowDue === undefined || a.ended || a.slowDue > this.now) continue;
          const b = rec.spec.attempts[a.n - 1] as { kind: 'slow'; ok: boolean };
          const value = b.ok ? { slow: rec.id, attempt: a.n } : new Error(`slow ${rec.id}/${a.n}`);
          this.end(rec, a, b.ok, value);
          if (b.ok) a.hold!.resolve(value);
          else a.hold!.reject(value);
        }
      }
      await quiesce();
    }
  }

  /**
   * Attempts whose timeout has come (the engine's timer fired in the last clock step). The
   * abort listener normally marks them first; one whose ctx.signal was already aborted gets
   * no abort event and is marked here.
   */
  private timeouts(): void {
    for (const rec of this.tasks) {
      const ms = rec.policy.timeoutMs;
      const last = rec.last;
      // A handler that gave up inside the very clock step whose timer timed it out (the drain
      // deadline aborted its signal just before, at the same ms or at the step's first ms,
      // where a timer set with delay 0 fires): its rejection reaches the engine only after the
      // timeout timer has fired in the same step, so the timeout wins.
      const sameStep =
        last !== undefined &&
        !last.timedOut &&
        last.endedInStep &&
        last.endStep === this.steps &&
        ms !== undefined &&
        last.startAt + ms <= this.now;
      const a = sameStep ? last : rec.running;
      if (a === undefined || ms === undefined || this.now < a.startAt + ms) continue;
      // No abort event: only right if the signal was aborted before (the caller, the drain
      // deadline, or an earlier attempt: POLICY_DEFECTS.retryStartsAborted).
      if (!a.signal.aborted)
        this.fail(`${rec} attempt ${a.n} timed out without aborting ctx.signal`);
      a.timedOut = true;
      a.timedOutAt = a.startAt + ms;
      this.log.push(`timeout ${rec} attempt ${a.n} at ${this.now} (signal aborted before)`);
      this.decide(rec, a, new TaskTimeoutError(rec.taskId, ms));
    }
  }

  // ------------------------------------------------------------ engine callbacks

  private onSettled(rec: Rec, outcome: TaskOutcome, value: unknown): void {
    seen(`onSettled: ${outcome}`);
    if (callerId() !== rec.id) this.fail(`${rec}: onSettled ran in caller ${callerId()}'s context`);
    rec.onSettledCalls.push({ outcome, value, at: this.now });
    if (rec.onSettledCalls.length > 1) this.fail(`${rec}: onSettled called twice`);
  }

  private onUnhandled(error: unknown, info: { taskId: number; type: string }): void {
    const rec = this.tasks.find((t) => t.taskId === info.taskId);
    if (rec === undefined) return this.fail(`unhandled report for unknown task ${info.taskId}`);
    if (rec.spec.api !== 'enqueue') this.fail(`${rec}: awaited task reported as unhandled`);
    rec.settlements.push({ kind: 'unhandled', value: error });
  }

  private runHandler(id: number, ctx: TaskContext): unknown {
    // Timeouts due now fired in the clock step before this start (a signal that was aborted
    // before gives no abort event, so they may not be marked yet).
    this.timeouts();
    const rec = this.tasks[id - 1];
    if (callerId() !== id) this.fail(`${rec}: handler ran in caller ${callerId()}'s context`);
    const seq = ++this.seq;
    const at = this.now;
    const n = rec.attempts.length + 1;
    const prev = rec.last;
    this.takes++;
    this.log.push(`start ${rec} attempt ${ctx.attempt} lane ${ctx.laneId} at ${at}`);
    if (!this.started) this.fail(`${rec} started before start()`);
    if (this.deadlineFired) this.fail(`${rec} started after the drain deadline`);
    if (this.drained) this.fail(`${rec} started after drain resolved`);
    if (ctx.attempt !== n) this.fail(`${rec}: ctx.attempt ${ctx.attempt}, want ${n}`);
    if (ctx.taskId !== rec.taskId) this.fail(`${rec}: ctx.taskId ${ctx.taskId}`);
    if (ctx.sessionId !== rec.session) this.fail(`${rec}: ctx.sessionId ${ctx.sessionId}`);
    if (n > rec.policy.attempts) this.fail(`${rec}: attempt ${n} of ${rec.policy.attempts}`);
    if (rec.withdrawn) this.fail(`${rec} started after its caller's abort withdrew it`);
    if (prev !== undefined) {
      seen(prev.timedOut ? 'retry: after a timeout' : 'retry: after a failure');
      if (prev.timedOut && !prev.ended) seen('retry: overlapping its own late handler');
      if (prev.retry !== true)
        this.fail(`${rec} restarted although attempt ${prev.n} is not retried`);
      else if (!this.backoffOver(rec))
        this.fail(`${rec} retried at ${at}, before its backoff ended at ${rec.retryReadyAt}`);
      if (!prev.ended && !(prev.timedOut && rec.policy.overlap))
        this.fail(`${rec} retried while attempt ${prev.n} still runs`);
    }
    if (ctx.signal.aborted) {
      const tolerated = POLICY_DEFECTS.retryStartsAborted && n > 1;
      if (!rec.callerAborted && !tolerated) this.fail(`${rec} started with an aborted signal`);
    }
    // Lane concurrency: late handlers do not hold a slot.
    const onLane = this.tasks.filter((t) => t.running?.laneId === ctx.laneId).length;
    if (onLane + 1 > this.cfg.laneConcurrency)
      this.fail(`lane ${ctx.laneId} runs ${onLane + 1} > ${this.cfg.laneConcurrency}`);
    if (rec.session !== undefined) {
      for (const t of this.tasks) {
        if (t === rec || t.session !== rec.session) continue;
        for (const a of t.attempts) {
          if (a.ended) continue;
          seen('session: start while a late overlapOnTimeout handler runs');
          if (!(a.timedOut && t.policy.overlap))
            this.fail(`${rec} started while ${t} attempt ${a.n} of its session runs`);
        }
        if (t.id < rec.id) {
          if (!t.final) this.fail(`${rec} started before earlier ${t} of its session settled`);
          if (t.spec.onSettled && t.onSettledCalls.length === 0 && !t.withdrawn)
            this.fail(`${rec} started before onSettled of earlier ${t}`);
        } else if (t.attempts.length > 0) {
          this.fail(`${rec} started after later ${t} of its session`);
        }
      }
    }
    this.checkRate(rec, at);
    this.checkPriority(rec, ctx.laneId);

    const a: Attempt = {
      n,
      startAt: at,
      startSeq: seq,
      laneId: ctx.laneId,
      signal: ctx.signal,
      ended: false,
      endAt: -1,
      timedOut: false,
      timeoutError: undefined,
      timedOutAt: -1,
      result: undefined,
      retry: undefined,
      hold: undefined,
      slowDue: undefined,
      preAborted: ctx.signal.aborted,
      endedInStep: false,
      endStep: -1,
    };
    rec.attempts.push(a);
    const timeoutMs = rec.policy.timeoutMs;
    ctx.signal.addEventListener('abort', () => {
      const r: unknown = ctx.signal.reason;
      if (!(r instanceof TaskTimeoutError)) return;
      if (rec.last !== a) return; // an earlier attempt's signal (shared controller)
      a.timedOut = true;
      seen('timeout: via ctx.signal');
      a.timeoutError = r;
      a.timedOutAt = this.now;
      this.log.push(`timeout ${rec} attempt ${a.n}`);
      if (timeoutMs === undefined) this.fail(`${rec} timed out without a timeoutMs`);
      else if (this.now !== a.startAt + timeoutMs)
        this.fail(`${rec} timed out at ${this.now}, want ${a.startAt + timeoutMs}`);
      if (a.ended && a.endAt < a.startAt + (timeoutMs ?? 0))
        this.fail(`${rec} timed out although its handler finished at ${a.endAt}`);
      if (r.taskId !== rec.taskId || r.timeoutMs !== timeoutMs)
        this.fail(`${rec}: TaskTimeoutError(${r.taskId}, ${r.timeoutMs})`);
      this.decide(rec, a, r);
    });

    const b = rec.spec.attempts[n - 1];
    const value = { result: rec.id, attempt: n };
    const err = new Error(`task ${rec.id} attempt ${n} failed`);
    const nonError = `task ${rec.id} attempt ${n} failed`;
    switch (b.kind) {
      case 'ok':
        this.end(rec, a, true, value);
        return value;
      case 'ok-async':
        this.end(rec, a, true, value);
        return Promise.resolve(value);
      case 'throw-error':
        this.end(rec, a, false, err);
        throw err;
      case 'throw-value':
        this.end(rec, a, false, nonError);
        throw nonError;
      case 'reject-error':
        this.end(rec, a, false, err);
        return Promise.reject(err);
      case 'reject-value':
        this.end(rec, a, false, nonError);
        return Promise.reject(nonError);
      case 'slow':
      case 'hold': {
        let resolve!: (v: unknown) => void;
        let reject!: (e: unknown) => void;
        const p = new Promise((res, rej) => {
          resolve = res;
          reject = rej;
        });
        a.hold = { resolve, reject };
        if (b.kind === 'slow') a.slowDue = at + b.ms;
        else if (b.abortable) {
          const giveUp = () => {
            if (a.ended) return;
            this.log.push(`${rec} attempt ${a.n} gives up (signal)`);
            this.end(rec, a, false, ctx.signal.reason);
            reject(ctx.signal.reason);
          };
          // A signal left aborted by an earlier attempt's timeout (POLICY_DEFECTS.retryStartsAborted)
          // would make the engine count this attempt as timed out: behave as a plain hold then.
          if (ctx.signal.aborted) {
            if (!(ctx.signal.reason instanceof TaskTimeoutError)) giveUp();
          } else ctx.signal.addEventListener('abort', giveUp);
        }
        return p;
      }
    }
  }

  private end(rec: Rec, a: Attempt, ok: boolean, value: unknown): void {
    if (a.ended) return this.fail(`${rec} attempt ${a.n} ended twice`);
    a.ended = true;
    a.endAt = this.now;
    a.endedInStep = this.inStep;
    a.endStep = this.steps;
    a.result = { ok, value };
    if (a.timedOut) {
      // A late handler: its result is ignored; a held retry's backoff starts now.
      if (a.retry === true && !rec.policy.overlap) {
        rec.retryScheduledAt = this.now;
        rec.retryReadyAt = this.now + this.backoff(rec, a.n);
      }
      return;
    }
    if (ok) a.retry = false;
    else this.decide(rec, a, value);
  }

  /** The retry's backoff timer has fired (it is queued again, or started). */
  private backoffOver(rec: Rec): boolean {
    return this.now >= rec.retryReadyAt && this.now > rec.retryScheduledAt;
  }

  private backoff(rec: Rec, n: number): number {
    const p = rec.policy;
    return Math.min(p.maxDelayMs, p.delayMs * p.factor ** (n - 1));
  }

  /** A failed attempt: does the policy retry it? */
  private decide(rec: Rec, a: Attempt, error: unknown): void {
    const p = rec.policy;
    a.retry = p.attempts > 1 && a.n < p.attempts && retryIfHolds(p.retryIf, error);
    if (a.retry && (this.deadlineFired || this.now >= this.drainDeadlineAt))
      this.expiredRetry = true;
    if (a.retry) {
      const holds = a.timedOut && !p.overlap && !a.ended;
      rec.retryScheduledAt = this.now;
      rec.retryReadyAt = holds ? Infinity : this.now + this.backoff(rec, a.n);
    }
  }

  private checkRate(rec: Rec, at: number): void {
    const limits: Array<[string, RateLimit]> = [];
    if (this.cfg.rateLimit !== undefined) limits.push(['pool', this.cfg.rateLimit]);
    const own = this.cfg.types[rec.spec.type].rateLimit;
    if (own !== undefined) limits.push([TYPES[rec.spec.type], own]);
    for (const [name, { tasks, intervalMs }] of limits) {
      const starts = this.startsBy.get(name) ?? [];
      starts.push(at);
      this.startsBy.set(name, starts);
      seen('rate: limited start');
      if (starts.length > tasks && at - starts[starts.length - 1 - tasks] < intervalMs)
        seen('rate: start with the bucket close to its bound');
      for (let i = 0; i < starts.length; i++) {
        const n = starts.length - i;
        const bound = tasks + ((at - starts[i]) * tasks) / intervalMs;
        if (n > bound + 1e-9) {
          this.fail(
            `rate limit ${name} ${tasks}/${intervalMs}ms: ${n} starts in [${starts[i]}, ${at}], bound ${bound}`,
          );
          break;
        }
      }
    }
  }

  private priorityChecked(): boolean {
    return (
      this.cfg.lanes === 1 &&
      !this.resized &&
      this.cfg.rateLimit === undefined &&
      this.cfg.types.every((t) => t.rateLimit === undefined)
    );
  }

  /** Queued (not running, not waiting to retry) and at the head of its session. */
  private ready(rec: Rec): boolean {
    if (rec.final || rec.running !== undefined) return false;
    if (rec.retrying && !this.backoffOver(rec)) return false;
    if (rec.last !== undefined && !rec.last.ended && !(rec.last.timedOut && rec.policy.overlap))
      return false;
    if (rec.session === undefined) return true;
    for (const t of this.tasks) {
      if (t.session !== rec.session || t === rec) continue;
      if (t.id < rec.id && !t.final) return false;
      for (const a of t.attempts) if (!a.ended && !(a.timedOut && t.policy.overlap)) return false;
    }
    return true;
  }

  private checkPriority(rec: Rec, laneId: number): void {
    if (!this.priorityChecked()) return;
    // The starvation rule can only apply once AGING_LIMIT takes have passed (every shift of
    // the ready queue is a start or skips an item a withdrawal left behind).
    if (this.takes + this.withdrawals > AGING_LIMIT) return;
    if (rec.session !== undefined && this.dirtySessions.has(rec.session)) return;
    seen('priority: start checked');
    if (this.readyBefore.some((y) => y !== rec && y.policy.priority !== rec.policy.priority))
      seen('priority: start checked against a ready task of another priority');
    for (const y of this.readyBefore) {
      if (y === rec || y.policy.priority <= rec.policy.priority) continue;
      if (y.session !== undefined && this.dirtySessions.has(y.session)) continue;
      if (!this.ready(y) || y.attempts.length !== this.readyBeforeAttempts.get(y)) continue;
      seen('priority: higher-priority task ready, lower one started (violation)');
      this.fail(
        `priority: ${rec} (priority ${rec.policy.priority}) started on lane ${laneId} while ${y} (priority ${y.policy.priority}) was ready`,
      );
    }
  }
  private readyBeforeAttempts = new Map<Rec, number>();

  // ------------------------------------------------------------ invariants

  expected(): {
    completed: number;
    failed: number;
    timedOut: number;
    cancelled: number;
    retried: number;
    deadLettered: number;
    queued: number;
    running: number;
    retrying: number;
    late: number;
    waitingLate: number;
  } {
    const e = {
      completed: 0,
      failed: 0,
      timedOut: 0,
      cancelled: 0,
      retried: 0,
      deadLettered: 0,
      queued: 0,
      running: 0,
      retrying: 0,
      late: 0,
      waitingLate: 0,
    };
    for (const t of this.tasks) {
      for (const a of t.attempts) {
        if (a.retry === true) e.retried++;
        if (a.timedOut && !a.ended) e.late++;
      }
      const last = t.last;
      if (t.withdrawn || this.cancelledAtDeadline(t)) e.cancelled++;
      else if (last === undefined) e.queued++;
      else if (last.retry === false) {
        if (last.timedOut) e.timedOut++;
        else if (last.result!.ok) e.completed++;
        else e.failed++;
        if ((last.timedOut || !last.result!.ok) && t.policy.attempts > 1) e.deadLettered++;
      } else if (last.retry === true) {
        if (this.backoffOver(t)) e.queued++;
        else if (t.retryReadyAt !== Infinity) e.retrying++;
        else e.waitingLate++;
      } else e.running++;
    }
    return e;
  }

  /** Not started (again) when the deadline passed: the drain cancelled it. */
  private cancelledAtDeadline(t: Rec): boolean {
    if (!this.deadlineFired || t.withdrawn) return false;
    const last = t.last;
    if (last === undefined) return true;
    // A retry held by its late handler is cancelled only once that handler returns.
    return last.retry === true && (last.ended || !last.timedOut || t.policy.overlap);
  }

  checkQuiescent(): void {
    const st = this.pool.stats();
    const e = this.expected();
    const v = (cond: boolean, msg: string) =>
      cond || this.fail(`${msg}\n  stats: ${JSON.stringify(st)}`);
    v(st.accepted === this.tasks.length, `accepted ${st.accepted}, model ${this.tasks.length}`);
    v(st.rejected === (this.lateRefusal === undefined ? 0 : 1), `rejected ${st.rejected}`);
    for (const k of [
      'completed',
      'failed',
      'timedOut',
      'cancelled',
      'retried',
      'deadLettered',
    ] as const)
      v(st[k] === e[k], `${k} ${st[k]}, model ${e[k]}`);
    v(st.running === e.running, `running ${st.running}, model ${e.running}`);
    const severalLate =
      POLICY_DEFECTS.oneLateHandlerPerTask &&
      this.tasks.some((t) => t.attempts.filter((a) => a.timedOut).length > 1);
    if (severalLate) v(st.lateTasks <= e.late, `lateTasks ${st.lateTasks} > model ${e.late}`);
    else v(st.lateTasks === e.late, `lateTasks ${st.lateTasks}, model ${e.late}`);
    v(st.retrying === e.retrying, `retrying ${st.retrying}, model ${e.retrying}`);
    v(st.queued === e.queued, `queued ${st.queued}, model ${e.queued}`);
    v(
      st.accepted ===
        st.completed +
          st.failed +
          st.timedOut +
          st.cancelled +
          st.queued +
          st.running +
          st.retrying +
          e.waitingLate,
      'accepted != settled + queued + running + retrying + waiting for a late handler',
    );
    this.readyBefore = this.tasks.filter((t) => this.ready(t));
    this.readyBeforeAttempts = new Map(this.readyBefore.map((t) => [t, t.attempts.length]));
    this.throwViolations();
  }

  throwViolations(): void {
    if (this.violations.length > 0) {
      throw new Error(
        `policy contract violated:\n  ${this.violations.join('\n  ')}\nhistory:\n  ${this.log.slice(-80).join('\n  ')}`,
      );
    }
  }

  // ------------------------------------------------------------ end

  async finish(): Promise<void> {
    if (!this.started) this.start();
    const deadline = this.cfg.finalDeadline;
    this.log.push(`drain(${deadline})`);
    const p = this.pool.drain(deadline, { graceMs: Infinity });
    this.drainDeadlineAt = this.now + deadline;
    this.drainPromise = p;
    p.then(
      () => {
        this.drained = true;
        for (const t of this.tasks)
          for (const a of t.attempts) {
            if (a.ended) continue;
            const ms = t.policy.timeoutMs;
            const late = a.timedOut || (ms !== undefined && this.now >= a.startAt + ms);
            if (POLICY_DEFECTS.drainIgnoresLastLateHandler && late) continue;
            this.fail(`drain resolved while ${t} attempt ${a.n} still runs`);
          }
      },
      (e) => this.fail(`drain rejected with ${String(e)}`),
    );
    // A submit once draining is refused and counted.
    const refusal = { settled: [] as unknown[] };
    this.lateRefusal = refusal;
    this.pool.submit(TYPES[0], { id: -1 }).then(
      () => this.fail('a submit after drain() was accepted'),
      (err) => refusal.settled.push(err),
    );
    await quiesce();
    this.checkQuiescent();
    // Until the drain resolves and every handler (late ones included) has returned.
    const busy = () => !this.drained || this.tasks.some((t) => t.attempts.some((a) => !a.ended));
    for (let round = 0; busy() && round < 2_000; round++) {
      const held = this.held();
      const deadlinePending = !this.deadlineFired && this.drainDeadlineAt !== Infinity;
      if (held.length > 0 && !(deadlinePending && this.cfg.deadlineFirst)) {
        this.release(round * 7, round % 3 !== 0);
        await quiesce();
      } else {
        await this.tick(1);
      }
      this.checkQuiescent();
      if (POLICY_DEFECTS.drainHangsAfterExpiredRetry && this.expiredRetry && !this.drained) {
        const st = this.pool.stats();
        const idle = st.queued + st.running + st.retrying + st.lateTasks === 0;
        if (idle && this.tasks.every((t) => t.attempts.every((a) => a.ended))) {
          this.stuckDrain = true;
          break;
        }
      }
    }
    if (!this.drained && !this.stuckDrain) this.fail('drain did not finish');
    // Every removed lane is gone once nothing runs.
    let gone = false;
    void Promise.all(this.removals).then(() => (gone = true));
    await quiesce();
    if (!this.stuckDrain && !gone) this.fail('a removeLane() promise is still pending after drain');
    else if (!this.stuckDrain && busy()) this.fail('handlers still running long after the drain');
    await quiesce();
    this.checkQuiescent();
    const limited = this.cfg.rateLimit !== undefined || this.cfg.types.some((t) => t.rateLimit);
    if (POLICY_DEFECTS.withdrawnStaysParked && limited && this.tasks.some((t) => t.withdrawn)) {
      // Let the limiters' timers run out (each fires within one interval, at most 30 ms).
      const left = this.pool.stats().rateLimited;
      if (left > 0 || jest.getTimerCount() > 0) {
        this.log.push(`after drain: ${left} withdrawn tasks still parked`);
        await this.tick(61);
      }
    }
    this.checkEnd(refusal.settled);
  }

  private checkEnd(refusals: unknown[]): void {
    const v = (cond: boolean, msg: string) => cond || this.fail(msg);
    const st = this.pool.stats();
    v(
      st.state === (this.stuckDrain ? 'draining' : 'stopped') &&
        st.queued === 0 &&
        st.running === 0 &&
        st.activeSessions === 0,
      `not empty after drain: ${JSON.stringify({ ...st, latency: undefined, types: undefined })}`,
    );
    v(
      st.lateTasks === 0 && st.retrying === 0 && st.rateLimited === 0,
      'late/retrying/rateLimited left',
    );
    v(jest.getTimerCount() === 0, `${jest.getTimerCount()} timers left after drain`);
    v(
      refusals.length === 1 && refusals[0] instanceof PoolClosedError,
      'submit after drain not refused',
    );
    for (const t of this.tasks) {
      const msg = (m: string) =>
        this.fail(
          `${t}: ${m} (attempts ${t.attempts.map((a) => `${a.n}:${a.timedOut ? 'T' : a.result?.ok ? 'ok' : 'err'}`)}; settlements ${t.settlements.map((s) => s.kind)})`,
        );
      // What the caller must see.
      let outcome: TaskOutcome;
      let check: (value: unknown) => boolean;
      const last = t.last;
      for (const a of t.attempts.slice(0, -1))
        if (a.retry !== true) msg(`attempt ${a.n} was followed by another but not retried`);
      if (
        t.withdrawn ||
        this.cancelledAtDeadline(t) ||
        (last !== undefined && last.retry === true)
      ) {
        outcome = 'cancelled';
        const reason = t.withdrawn ? 'aborted' : 'shutdown';
        if (!t.withdrawn && !this.deadlineFired) msg('never finished and no deadline passed');
        check = (value) =>
          value instanceof TaskCancelledError &&
          value.reason === reason &&
          value.taskId === t.taskId;
      } else if (last === undefined) {
        msg('never started, never cancelled');
        continue;
      } else if (last.timedOut) {
        outcome = 'timed-out';
        check = (value) =>
          last.timeoutError !== undefined
            ? value === last.timeoutError
            : value instanceof TaskTimeoutError &&
              value.taskId === t.taskId &&
              value.timeoutMs === t.policy.timeoutMs;
      } else if (last.result === undefined) {
        msg('still running at the end');
        continue;
      } else {
        outcome = last.result.ok ? 'completed' : 'failed';
        check = (value) => Object.is(value, last.result!.value);
      }
      const s = t.settlements;
      if (t.spec.api === 'submit') {
        const want = outcome === 'completed' ? 'resolved' : 'rejected';
        if (s.length !== 1 || s[0].kind !== want || !check(s[0].value))
          msg(
            `caller did not get ${outcome} exactly once (got ${s.map((x) => `${x.kind} ${String(x.value)}`)})`,
          );
      } else if (outcome === 'completed') {
        if (s.length !== 0) msg('completed task reported as unhandled');
      } else if (s.length !== 1 || !check(s[0].value)) {
        msg(
          `${outcome} not reported once to onUnhandledFailure (got ${s.map((x) => String(x.value))})`,
        );
      }
      if (t.spec.onSettled) {
        const c = t.onSettledCalls;
        if (c.length !== 1 || c[0].outcome !== outcome || !check(c[0].value))
          msg(`onSettled ${c.map((x) => `${x.outcome} ${String(x.value)}`)}, want ${outcome} once`);
        else if (outcome === 'timed-out' && c[0].at !== last!.timedOutAt)
          msg(`onSettled(timed-out) at ${c[0].at}, timeout at ${last!.timedOutAt}`);
      }
      const deadLettered =
        !t.withdrawn &&
        last?.retry === false &&
        (last.timedOut || !last.result!.ok) &&
        t.policy.attempts > 1;
      const dl = t.deadLetters;
      if (deadLettered) seen('end: dead-lettered');
      if (deadLettered) {
        const err = last!.timedOut ? last!.timeoutError : last!.result!.value;
        const same =
          last!.timedOut && err === undefined ? check!(dl[0]?.error) : Object.is(dl[0]?.error, err);
        if (dl.length !== 1 || !same || dl[0].attempts !== last!.n)
          msg(`onDeadLetter ${dl.length} times, want once with the last error`);
      } else if (dl.length !== 0) msg('dead-lettered although not a final failure with retries');
      // The task's own retryIf saw each failure that could be retried, with its attempt.
      if (t.spec.policy.retry !== undefined && t.spec.policy.retry.retryIf !== 'all') {
        const wantCalls = t.attempts.filter(
          (a) =>
            a.n < t.policy.attempts &&
            t.policy.attempts > 1 &&
            (a.timedOut || a.result?.ok === false),
        );
        const calls = t.retryIfCalls;
        if (calls.length !== wantCalls.length || calls.some((c, i) => c.attempt !== wantCalls[i].n))
          msg(`retryIf called ${calls.length} times, want ${wantCalls.length}`);
      }
    }
    this.throwViolations();
  }
}

// ------------------------------------------------------------------ commands

type Cmd = fc.AsyncCommand<PolicyHarness, PolicyHarness>;

abstract class Step implements Cmd {
  check(_m: Readonly<PolicyHarness>): boolean {
    return true;
  }
  async run(m: PolicyHarness): Promise<void> {
    await this.apply(m);
    await quiesce();
    m.checkQuiescent();
  }
  abstract apply(m: PolicyHarness): void | Promise<void>;
  abstract toString(): string;
}

class CallCmd extends Step {
  constructor(readonly spec: TaskSpec) {
    super();
  }
  apply(m: PolicyHarness): void {
    m.call(this.spec);
  }
  toString(): string {
    const s = this.spec;
    return `${s.api}(${JSON.stringify({ ...s, api: undefined })})`;
  }
}

class ReleaseCmd extends Step {
  constructor(
    readonly pick: number,
    readonly ok: boolean,
  ) {
    super();
  }
  override check(m: Readonly<PolicyHarness>): boolean {
    return (m as PolicyHarness).held().length > 0;
  }
  apply(m: PolicyHarness): void {
    m.release(this.pick, this.ok);
  }
  toString(): string {
    return `release(${this.pick}, ${this.ok})`;
  }
}

class AbortCmd extends Step {
  constructor(readonly pick: number) {
    super();
  }
  override check(m: Readonly<PolicyHarness>): boolean {
    return (m as PolicyHarness).abortables().length > 0;
  }
  apply(m: PolicyHarness): void {
    m.abort(this.pick);
  }
  toString(): string {
    return `abort(${this.pick})`;
  }
}

class TickCmd extends Step {
  constructor(readonly ms: number) {
    super();
  }
  apply(m: PolicyHarness): Promise<void> {
    return m.tick(this.ms);
  }
  toString(): string {
    return `tick(${this.ms})`;
  }
}

class ResizeCmd extends Step {
  constructor(
    readonly pick: number,
    readonly add: boolean,
  ) {
    super();
  }
  override check(m: Readonly<PolicyHarness>): boolean {
    return m.cfg.resizable === true;
  }
  apply(m: PolicyHarness): void {
    m.resize(this.pick, this.add);
  }
  toString(): string {
    return this.add ? 'addLane()' : `removeLane(pick ${this.pick})`;
  }
}

class StartCmd extends Step {
  apply(m: PolicyHarness): void {
    m.start();
  }
  toString(): string {
    return 'start()';
  }
}

// ------------------------------------------------------------------ arbitraries

const priorityArb = fc.option(fc.integer({ min: -2, max: 2 }), { nil: undefined, freq: 2 });
const retryArb: fc.Arbitrary<RetrySpec> = fc
  .record({
    attempts: fc.integer({ min: 1, max: 3 }),
    delayMs: fc.integer({ min: 0, max: 15 }),
    factor: fc.constantFrom(1, 2),
    extra: fc.integer({ min: 0, max: 20 }),
    retryIf: fc.constantFrom<RetryIfTag>('all', 'all', 'errors-only', 'not-timeouts'),
  })
  .map(({ extra, ...r }) => ({ ...r, maxDelayMs: r.delayMs + extra }));
const policyArb: fc.Arbitrary<PolicySpec> = fc.record(
  {
    priority: priorityArb,
    retry: retryArb,
    timeoutMs: fc.integer({ min: 1, max: 25 }),
    overlapOnTimeout: fc.boolean(),
  },
  { requiredKeys: [] },
);
const rateArb: fc.Arbitrary<RateLimit> = fc.record({
  tasks: fc.integer({ min: 1, max: 3 }),
  intervalMs: fc.integer({ min: 3, max: 30 }),
});
const typeArb: fc.Arbitrary<TypeSpec> = fc
  .tuple(policyArb, fc.option(rateArb, { nil: undefined, freq: 2 }))
  .map(([p, rateLimit]) => (rateLimit === undefined ? p : { ...p, rateLimit }));

const behaviourArb: fc.Arbitrary<Behaviour> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .constantFrom('ok', 'ok-async', 'throw-error', 'throw-value', 'reject-error', 'reject-value')
      .map((kind) => ({ kind }) as Behaviour),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('slow' as const),
      ms: fc.integer({ min: 1, max: 30 }),
      ok: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('hold' as const), abortable: fc.boolean() }),
  },
);

/**
 * Two kinds of runs: 'priority' runs (one lane, no rate limits, started late so work piles up)
 * where the priority check applies, and 'mixed' runs with every policy at once.
 */
export function policyConfigArb(): fc.Arbitrary<PolicyConfig> {
  const plainType = policyArb as fc.Arbitrary<TypeSpec>;
  const priority = fc.record({
    lanes: fc.constant(1),
    laneConcurrency: fc.integer({ min: 1, max: 2 }),
    types: fc.tuple(plainType, plainType, plainType),
    startAtOnce: fc.constantFrom(false, false, true),
    finalDeadline: fc.oneof(fc.constant(Infinity), fc.integer({ min: 0, max: 40 })),
    deadlineFirst: fc.boolean(),
  });
  const mixed = fc
    .record({
      lanes: fc.constantFrom(1, 2),
      laneConcurrency: fc.integer({ min: 1, max: 2 }),
      rateLimit: fc.option(rateArb, { nil: undefined, freq: 3 }),
      types: fc.tuple(typeArb, typeArb, typeArb),
      startAtOnce: fc.boolean(),
      finalDeadline: fc.oneof(fc.constant(Infinity), fc.integer({ min: 0, max: 40 })),
      deadlineFirst: fc.boolean(),
      resizable: fc.boolean(),
      rebalance: fc.constantFrom<'when-idle' | 'between-tasks'>('when-idle', 'between-tasks'),
    })
    .map((c) => (c.rateLimit === undefined ? (({ rateLimit: _, ...rest }) => rest)(c) : c));
  return fc.oneof({ arbitrary: priority, weight: 1 }, { arbitrary: mixed, weight: 2 });
}

export function policyCommandsArb(maxCommands: number): fc.Arbitrary<Iterable<Cmd>> {
  const spec = fc.record({
    api: fc.constantFrom<'submit' | 'enqueue'>('submit', 'submit', 'enqueue'),
    session: fc.constantFrom<SessionId>(undefined, ...SESSIONS),
    type: fc.integer({ min: 0, max: 2 }),
    policy: policyArb,
    attempts: fc.tuple(behaviourArb, behaviourArb, behaviourArb),
    signal: fc.boolean(),
    onSettled: fc.constantFrom(true, true, false),
  });
  const call = spec.map((s) => new CallCmd(s));
  const release = fc.tuple(fc.nat(), fc.boolean()).map(([p, ok]) => new ReleaseCmd(p, ok));
  const abort = fc.nat().map((p) => new AbortCmd(p));
  const tick = fc.integer({ min: 1, max: 20 }).map((ms) => new TickCmd(ms));
  const start = fc.constant(new StartCmd());
  const resize = fc.tuple(fc.nat(), fc.boolean()).map(([p, add]) => new ResizeCmd(p, add));
  const arbs: Array<[fc.Arbitrary<Cmd>, number]> = [
    [call, 6],
    [release, 4],
    [abort, 2],
    [tick, 4],
    [start, 1],
    [resize, 1],
  ];
  return fc.commands(
    arbs.flatMap(([a, w]) => Array.from({ length: w }, () => a)),
    { maxCommands, size: 'max' },
  );
}

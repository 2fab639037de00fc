import { type CallerContext, captureContext } from '../async-context.js';
import { PoolClosedError, TaskCancelledError } from '../errors.js';
import type { HandlerEntry, HandlerRegistry } from '../handler-registry.js';
import { instrumentAccept } from '../instrument.js';
import type { Session } from '../lanes/session.js';
import type { SessionTable } from '../lanes/session-table.js';
import type { WaitingWork } from '../lanes/waiting-work.js';
import { now } from '../load-meter.js';
import type { ResolvedPoolOptions } from '../options.js';
import type { Outcomes } from '../outcomes.js';
import type { RunLoops } from '../run/run-loops.js';
import type { SelfWaitCheck } from '../self-wait.js';
import type { PoolState } from '../stats.js';
import { type SubmitOptions, checkSubmitOptions } from '../submit-options.js';
import { unwatch, watch } from '../signal-watch.js';
import { Task } from '../task.js';
import { type TaskPolicy, resolveTaskPolicy } from '../task-policy.js';
import type { Admission } from './admission.js';

/**
 * How a submitted task enters the pool: its options checked, its handler and policy looked
 * up, the caller's context captured, room found (Admission: at once, or by waiting), then
 * the task made and handed to WaitingWork. A caller's AbortSignal is followed from here.
 *
 * Invariant: a task is counted accepted (Outcomes) exactly when it enters WaitingWork; a
 * refused one is counted rejected and never reaches it.
 */
export class Intake {
  /** Set when the pool stops accepting: the state the refusal names. One test per submit. */
  refusing: PoolState | undefined = undefined;
  private nextTaskId = 1;

  constructor(
    private readonly options: ResolvedPoolOptions,
    private readonly handlers: HandlerRegistry,
    private readonly selfWait: SelfWaitCheck | undefined,
    private readonly admission: Admission,
    private readonly sessions: SessionTable,
    private readonly work: WaitingWork,
    private readonly loops: Pick<RunLoops, 'withdraw' | 'checkIdle'>,
    private readonly outcomes: Outcomes,
  ) {}

  /**
   * Accepts a task, or throws why not. Returns a promise only when the caller has to wait
   * for queue room. `onlyCheck`: checks everything but room, and accepts nothing.
   */
  accept(
    type: string,
    payload: unknown,
    options: SubmitOptions | undefined,
    resolve: ((v: unknown) => void) | undefined,
    reject: ((e: unknown) => void) | undefined,
    onlyCheck = false,
  ): Promise<void> | undefined {
    if (this.refusing !== undefined) {
      this.outcomes.counts.rejected++;
      throw new PoolClosedError(this.refusing);
    }
    const entry = this.handlers.get(type);
    let sessionId: string | undefined;
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      checkSubmitOptions(options);
      sessionId = options.sessionId;
      signal = options.signal;
      // Only an awaited result deadlocks: enqueue queues a follow-up task freely.
      if (this.selfWait !== undefined && sessionId !== undefined && resolve !== undefined) {
        const error = this.selfWait.submitError(sessionId);
        if (error !== undefined) {
          this.outcomes.counts.rejected++;
          this.outcomes.counts.selfWaits++;
          throw error;
        }
      }
      if (signal?.aborted) {
        this.outcomes.counts.rejected++;
        throw new TaskCancelledError(0, 'aborted', signal.reason);
      }
    }
    const policy =
      options === undefined ||
      (options.retry === undefined &&
        options.timeoutMs === undefined &&
        options.overlapOnTimeout === undefined &&
        options.priority === undefined)
        ? entry.policy
        : resolveTaskPolicy(entry.policy, options);
    if (onlyCheck) return undefined;
    // Captured now, in the caller's call: a caller admitted later is woken by the pool.
    const context = entry.captures ? captureContext() : undefined;
    const session = sessionId === undefined ? undefined : this.sessions.byId.get(sessionId);
    const scope = this.admission.full(sessionId, session);
    if (scope === undefined) {
      const s = sessionId === undefined ? undefined : (session ?? this.sessions.open(sessionId));
      this.push(entry, policy, payload, s, context, options, resolve, reject);
      return undefined;
    }
    if (this.options.whenFull === 'reject') {
      this.outcomes.counts.rejected++;
      throw this.admission.error(scope, sessionId);
    }
    return new Promise<void>((admitted, refused) => {
      this.admission.wait(
        scope,
        sessionId,
        signal,
        () => {
          // Looked up again: the session may have come or gone while the caller waited.
          const s = sessionId === undefined ? undefined : this.sessions.session(sessionId);
          this.push(entry, policy, payload, s, context, options, resolve, reject);
          admitted();
        },
        (error) => {
          this.outcomes.counts.rejected++;
          refused(error);
        },
      );
    });
  }

  private push(
    entry: HandlerEntry,
    policy: TaskPolicy,
    payload: unknown,
    session: Session | undefined,
    context: CallerContext,
    options: SubmitOptions | undefined,
    resolve: ((v: unknown) => void) | undefined,
    reject: ((e: unknown) => void) | undefined,
  ): void {
    const task = new Task(this.nextTaskId++, entry, payload, session, context);
    const signal = options?.signal;
    task.resolve = resolve;
    task.reject = reject;
    task.policy = policy;
    const onSettled = options?.onSettled;
    // One task in latencySampleEvery carries its timestamps; the others read no clock.
    const timed = this.outcomes.sample();
    if (signal !== undefined || onSettled !== undefined || timed) {
      const extra = task.more();
      extra.onSettled = onSettled;
      if (timed) extra.timedAt = now();
    }
    if (signal !== undefined) this.follow(task, signal);
    const instrument = this.options.instrument;
    if (instrument !== undefined) instrumentAccept(instrument, task);
    this.outcomes.accepted(task);
    this.work.enqueue(task);
  }

  // The caller's AbortSignal: a task not yet started leaves the pool, a running one is
  // told to stop through ctx.signal (its handler decides the outcome).
  private follow(task: Task, signal: AbortSignal): void {
    const onAbort = () => {
      if (this.loops.withdraw(task)) {
        this.outcomes.cancel(task, new TaskCancelledError(task.taskId, 'aborted', signal.reason));
        this.loops.checkIdle();
      } else {
        task.abort(signal.reason);
      }
    };
    watch(signal, onAbort);
    task.extra!.detach = () => unwatch(signal, onAbort);
    task.extra!.callerSignal = signal;
  }
}

import type { Session } from './session.js';

/** What a handler receives beside its payload. */
export interface TaskContext {
  /** Unique within the pool, increasing in submission order. */
  readonly taskId: number;
  readonly type: string;
  /** The session the task belongs to; undefined for unkeyed tasks. */
  readonly sessionId: string | undefined;
  /** 1 on the first run. */
  readonly attempt: number;
  /** The lane running the task. */
  readonly laneId: number;
  /** Aborts when the task should stop early (shutdown deadline, and later timeouts). */
  readonly signal: AbortSignal;
}

export type TaskHandlerFn<P = any, R = any> = (payload: P, ctx: TaskContext) => R | Promise<R>;

export type TaskOutcome = 'completed' | 'failed' | 'cancelled';

/**
 * One accepted task. It doubles as the handler's context so a run allocates nothing
 * beyond the task itself; its AbortController is made only if the handler reads `signal`.
 * `next` links the task into its session's FIFO.
 */
export class Task implements TaskContext {
  attempt = 1;
  laneId = -1;
  next: Task | undefined = undefined;
  resolve: ((value: unknown) => void) | undefined = undefined;
  reject: ((reason: unknown) => void) | undefined = undefined;
  private controller: AbortController | undefined = undefined;
  private abortReason: unknown = undefined;

  constructor(
    readonly taskId: number,
    readonly type: string,
    readonly fn: TaskHandlerFn,
    readonly payload: unknown,
    readonly session: Session | undefined,
  ) {}

  get sessionId(): string | undefined {
    return this.session?.id;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}

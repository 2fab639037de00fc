import { QueueFullError, TaskCancelledError } from '../errors.js';
import type { Session } from '../lanes/session.js';
import type { SessionTable } from '../lanes/session-table.js';
import type { WaitingWork } from '../lanes/waiting-work.js';
import { unwatch, watch } from '../signal-watch.js';
import { WaitList, WaitNode } from './wait-list.js';

export type FullScope = 'pool' | 'session';

class Waiter extends WaitNode {
  constructor(
    readonly sessionId: string | undefined,
    readonly admit: () => void,
    readonly refuse: (error: unknown) => void,
    readonly signal: AbortSignal | undefined,
  ) {
    super();
  }
  onAbort: (() => void) | undefined = undefined;
}

/**
 * Queue capacity: the pool total and each session's share, with callers waiting for room
 * in FIFO order when the policy is 'wait'.
 *
 * Invariant: while anyone waits for pool room, newcomers wait behind them (no barging);
 * a waiter blocked by its own session's limit waits on that session and does not hold up
 * callers of other sessions.
 */
export class Admission {
  private readonly poolWaiters = new WaitList<Waiter>();
  private readonly sessionWaiters = new Map<string, WaitList<Waiter>>();

  constructor(
    /** The pool's queued tasks (`queued`)... */
    private readonly work: Pick<WaitingWork, 'queued'>,
    /** ...and each session's (`byId`). */
    private readonly sessions: Pick<SessionTable, 'byId'>,
    private readonly maxQueued: number,
    private readonly maxPerSession: number,
  ) {}

  get waiting(): number {
    let n = this.poolWaiters.length;
    for (const list of this.sessionWaiters.values()) n += list.length;
    return n;
  }

  /** Which limit stops a new task of this session now, if any. */
  /** `session`: the session's live state, already looked up by the caller (one Map get per submit). */
  full(sessionId: string | undefined, session: Session | undefined): FullScope | undefined {
    if (
      sessionId !== undefined &&
      this.sessionWaiters.size > 0 &&
      this.sessionWaiters.has(sessionId)
    ) {
      return 'session';
    }
    if (this.poolWaiters.length > 0 || this.work.queued >= this.maxQueued) return 'pool';
    if (session !== undefined && session.size >= this.maxPerSession) return 'session';
    return undefined;
  }

  /**
   * Whether tasks of these sessions (undefined: unkeyed) all fit now, taken together; the
   * error that refuses them if not. They never wait: nobody may be waiting either.
   */
  roomFor(sessionIds: ReadonlyArray<string | undefined>): QueueFullError | undefined {
    if (this.waiting > 0 || this.work.queued + sessionIds.length > this.maxQueued)
      return this.error('pool', undefined);
    const bySession = new Map<string, number>();
    for (const id of sessionIds)
      if (id !== undefined) bySession.set(id, (bySession.get(id) ?? 0) + 1);
    for (const [id, n] of bySession) {
      if ((this.sessions.byId.get(id)?.size ?? 0) + n > this.maxPerSession)
        return this.error('session', id);
    }
    return undefined;
  }

  error(scope: FullScope, sessionId: string | undefined): QueueFullError {
    return scope === 'pool'
      ? new QueueFullError('pool', this.maxQueued)
      : new QueueFullError('session', this.maxPerSession, sessionId);
  }

  /** Waits for room; `admit` runs synchronously once there is some, `refuse` on abort or close. */
  wait(
    scope: FullScope,
    sessionId: string | undefined,
    signal: AbortSignal | undefined,
    admit: () => void,
    refuse: (error: unknown) => void,
  ): void {
    const w = new Waiter(sessionId, admit, refuse, signal);
    if (signal !== undefined) {
      w.onAbort = () => {
        const inPool = w.list === this.poolWaiters;
        w.list?.remove(w);
        this.dropEmpty(sessionId);
        refuse(new TaskCancelledError(0, 'aborted', signal.reason));
        // A waiter promoted from its session's list leaves: the next one takes its turn,
        // or nobody would ever wake that list (its session may have nothing queued).
        if (inPool && sessionId !== undefined) this.handOn(sessionId);
      };
      watch(signal, w.onAbort);
    }
    this.enlist(w, scope);
  }

  /** A queued task started: hand the freed room to the first waiters that fit. */
  released(sessionId: string | undefined): void {
    if (sessionId !== undefined && this.sessionWaiters.size > 0) this.handOn(sessionId);
    let w: Waiter | undefined;
    while ((w = this.poolWaiters.peek()) !== undefined) {
      const scope = this.limit(w.sessionId, false);
      if (scope === 'pool') return;
      if (scope === 'session') this.park(w.sessionId!);
      else this.grant(this.poolWaiters.shift()!);
    }
  }

  /** The first waiter on the session's list gets the session's freed room. */
  private handOn(sessionId: string): void {
    const w = this.sessionWaiters.get(sessionId)?.shift();
    if (w === undefined) return;
    this.dropEmpty(sessionId);
    if (this.limit(sessionId, this.poolWaiters.length > 0) === undefined) this.grant(w);
    else this.poolWaiters.push(w);
  }

  /**
   * The session is full: every pool waiter of it moves, in order, to the front of its
   * session's list, so none overtakes an earlier one of the same session.
   */
  private park(sessionId: string): void {
    const list = new WaitList<Waiter>();
    for (let n = this.poolWaiters.peek(); n !== undefined;) {
      const next = n.next as Waiter | undefined;
      if (n.sessionId === sessionId) {
        this.poolWaiters.remove(n);
        list.push(n);
      }
      n = next;
    }
    const rest = this.sessionWaiters.get(sessionId);
    for (let n = rest?.shift(); n !== undefined; n = rest!.shift()) list.push(n);
    this.sessionWaiters.set(sessionId, list);
  }

  /** Refuses every waiter (the pool stopped accepting). */
  refuseAll(error: unknown): void {
    const all = [...this.sessionWaiters.values(), this.poolWaiters];
    this.sessionWaiters.clear();
    for (const list of all) {
      let w: Waiter | undefined;
      while ((w = list.shift()) !== undefined) {
        this.detach(w);
        w.refuse(error);
      }
    }
  }

  private limit(sessionId: string | undefined, poolBusy: boolean): FullScope | undefined {
    if (poolBusy || this.work.queued >= this.maxQueued) return 'pool';
    if (sessionId !== undefined) {
      const s = this.sessions.byId.get(sessionId);
      if (s !== undefined && s.size >= this.maxPerSession) return 'session';
    }
    return undefined;
  }

  private enlist(w: Waiter, scope: FullScope): void {
    if (scope === 'pool') return this.poolWaiters.push(w);
    let list = this.sessionWaiters.get(w.sessionId!);
    if (list === undefined) this.sessionWaiters.set(w.sessionId!, (list = new WaitList<Waiter>()));
    list.push(w);
  }

  private grant(w: Waiter): void {
    this.detach(w);
    w.admit();
  }

  private detach(w: Waiter): void {
    if (w.onAbort !== undefined) unwatch(w.signal!, w.onAbort);
  }

  private dropEmpty(sessionId: string | undefined): void {
    if (sessionId === undefined) return;
    if (this.sessionWaiters.get(sessionId)?.length === 0) this.sessionWaiters.delete(sessionId);
  }
}

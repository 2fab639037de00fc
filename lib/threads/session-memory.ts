/** Sessions remembered at most; past it the oldest is forgotten (it then "arrives" again). */
export const SESSION_MEMORY = 100_000;

/**
 * Which thread last ran each session, kept in the main thread, which places sessions (so
 * threads ask, they do not recompute placement). A task is told its session has just arrived
 * (`ctx.arrived`) unless the session's previous task ran in the same thread: only then can
 * the thread's state for it be current. It may say "arrived" when nothing moved (a forgotten
 * session), never the reverse: rebuilding state is always safe, trusting stale state is not.
 * Tasks of a session never overlap, so the order they are sent in is the order they run in.
 */
export class SessionMemory {
  /** Session id -> worker threadId (unique per process: a replaced thread gets a new one). */
  private readonly last = new Map<string, number>();

  constructor(private readonly cap = SESSION_MEMORY) {}

  /** True unless the session's previous task ran in `threadId`; from now on it has. */
  arrive(sessionId: string, threadId: number): boolean {
    const before = this.last.get(sessionId);
    if (before === threadId) return false;
    if (before === undefined && this.last.size >= this.cap)
      this.last.delete(this.last.keys().next().value!);
    this.last.set(sessionId, threadId);
    return true;
  }

  /** The session's task was not delivered after all: no thread can be trusted to hold it. */
  forget(sessionId: string): void {
    this.last.delete(sessionId);
  }
}

/**
 * Results of `submit()` delivered back to the replica that submitted. Invariant: each pending
 * submit settles exactly once: with the handler's result or its last failure (a NOTIFY on this
 * replica's own channel, sent by whichever replica ran the task; or, after the listener
 * reconnected, read from the job itself), or with ClusterSubmitTimeoutError at its deadline or
 * when the pool stops.
 */
import type { PgBoss } from 'pg-boss';
import type { FailureOutput } from './cluster.delivery.js';
import { ClusterSubmitTimeoutError, ClusterTaskFailedError } from './cluster.errors.js';

/** What a NOTIFY on a reply channel carries (JSON). `big`: too large for NOTIFY; read the job. */
export type Outcome =
  | { id: string; ok: true; v?: unknown }
  | { id: string; ok: false; e: FailureOutput; attempts: number }
  | { id: string; big: true };

/** The largest NOTIFY payload PostgreSQL takes is 8000 bytes; leave room. */
export const MAX_NOTIFY_BYTES = 7_900;

/** Written as a completed job's output when its submitter awaits the result. */
export interface ResultOutput {
  nwp: 'done';
  v?: unknown;
}

interface Pending {
  queue: string;
  type: string;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

export class ResultListener {
  private readonly pending = new Map<string, Pending>();
  private listening: Promise<{ close(): Promise<void> }> | undefined;

  constructor(
    private readonly boss: PgBoss,
    readonly channel: string,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Listens on the channel (once); a submit awaits this before it stores its task. */
  listen(): Promise<unknown> {
    if (this.listening === undefined) {
      // Cluster.submit checked that the adapter can listen.
      const listening = this.boss.getDb().listen!(
        this.channel,
        (payload) => this.received(payload),
        () => void this.recover(),
      );
      this.listening = listening;
      // Not listening (the database was down): the next submit tries again.
      listening.catch(() => {
        if (this.listening === listening) this.listening = undefined;
      });
    }
    return this.listening;
  }

  /** Awaits job `id`'s outcome; register before the job is stored, so no outcome can come first. */
  wait(id: string, queue: string, type: string, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.settle(id, undefined, new ClusterSubmitTimeoutError(type, id, timeoutMs)),
        timeoutMs,
      );
      timer.unref();
      this.pending.set(id, { queue, type, resolve, reject, timer });
    });
  }

  /** Settles a pending submit; a later outcome for it is ignored. */
  settle(id: string, value: unknown, error?: unknown): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (error === undefined) p.resolve(value);
    else p.reject(error);
  }

  /** Rejects every pending submit (the pool stops) and stops listening. */
  async close(): Promise<void> {
    for (const [id, p] of this.pending) {
      this.settle(id, undefined, new ClusterSubmitTimeoutError(p.type, id, undefined));
    }
    const handle = await this.listening?.catch(() => undefined);
    await handle?.close();
  }

  private received(payload: string): void {
    let outcome: Outcome;
    try {
      outcome = JSON.parse(payload) as Outcome;
    } catch (error) {
      this.onError(error);
      return;
    }
    const p = this.pending.get(outcome.id);
    if (p === undefined) return;
    if ('big' in outcome) void this.read(outcome.id, p);
    else if (outcome.ok) this.settle(outcome.id, outcome.v);
    else
      this.settle(outcome.id, undefined, failure(p.type, outcome.id, outcome.e, outcome.attempts));
  }

  /** After a reconnect, notifications may have been missed: read the pending jobs themselves. */
  private async recover(): Promise<void> {
    await Promise.all([...this.pending].map(([id, p]) => this.read(id, p)));
  }

  private async read(id: string, p: Pending): Promise<void> {
    try {
      const [job] = await this.boss.findJobs(p.queue, { id });
      if (job === undefined) return;
      const output = job.output as unknown as { nwp?: string; v?: unknown } | null;
      if (job.state === 'completed') this.settle(id, output?.v);
      else if (job.state === 'failed' && output?.nwp === 'failed')
        this.settle(
          id,
          undefined,
          failure(p.type, id, output as FailureOutput, job.retryCount + 1),
        );
    } catch (error) {
      this.onError(error);
    }
  }
}

function failure(type: string, id: string, e: FailureOutput, attempts: number): Error {
  return new ClusterTaskFailedError(type, id, e.name, e.message, e.code, attempts);
}

/**
 * One shard queue's fetch loop on this replica. Invariant: every job it fetched is held (in
 * `held`) until its outcome is written to the queue (complete, or fail so the queue retries
 * it) or the write failed (then the queue's heartbeat check gives it to another replica).
 * The queue's key_strict_fifo policy hands out one job per session at a time, so a job held
 * here holds its session on every replica.
 */
import type { JobAttempt, JobWithMetadata, PgBoss } from 'pg-boss';
import {
  type Envelope,
  type FailureOutput,
  type HandedBackOutput,
  Delivery,
} from './cluster.delivery.js';
import { TaskCancelledError } from '../core/errors.js';
import { ClusterClaimLostError, ClusterTaskFailedError, NotJsonError } from './cluster.errors.js';
import type { ResolvedClusterOptions } from './cluster.options.js';
import { MAX_NOTIFY_BYTES, type Outcome, type ResultOutput } from './cluster.results.js';
import type { FetcherCounts } from './cluster.stats.js';
import { GroupCommit } from './group-commit.js';
import { findNotJson } from './json.js';

/** Room shared by a replica's fetchers: at most `maxHeld` jobs in hand. */
export class HeldCount {
  count = 0;
  constructor(readonly max: number) {}
  get free(): number {
    return this.max - this.count;
  }
}

/** A job this replica holds: its attempt (what our writes are fenced to) and its claim. */
interface Held {
  attempt: JobAttempt;
  type: string;
  /** Aborted when a heartbeat finds the job taken by another replica (ctx.signal follows). */
  claim: AbortController;
}

export class ShardFetcher {
  private readonly held = new Map<string, Held>();
  /** complete() for the tasks that finished together, one under way (see GroupCommit). */
  private readonly completions = new GroupCommit<JobAttempt>((batch) => this.complete(batch));
  private stopped = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private loopDone: Promise<void> = Promise.resolve();
  private emptied: (() => void) | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  readonly counts: FetcherCounts = {
    fetches: 0,
    fetched: 0,
    completed: 0,
    failed: 0,
    handedBack: 0,
    writeErrors: 0,
  };

  constructor(
    private readonly boss: PgBoss,
    readonly queue: string,
    private readonly options: ResolvedClusterOptions,
    private readonly room: HeldCount,
    /** Runs a job's task locally, `claim` aborting it; settles when the task does. */
    private readonly run: (delivery: Delivery, claim: AbortSignal) => Promise<unknown>,
    /** Called when room frees up, so that every fetcher may fetch again. */
    private readonly roomFreed: () => void,
  ) {}

  get holding(): number {
    return this.held.size;
  }

  start(): void {
    this.loopDone = this.loop();
    const every = (this.options.heartbeatSeconds * 1000) / 2;
    this.heartbeat = setInterval(() => this.touch(), every);
    this.heartbeat.unref();
  }

  /** Stops fetching; resolves once no fetch is under way (jobs it brought are held and running). */
  stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    return this.loopDone;
  }

  /** Resolves once every held job's outcome is written; then stops the heartbeat. */
  async whenEmpty(): Promise<void> {
    if (this.held.size > 0) await new Promise<void>((resolve) => (this.emptied = resolve));
    clearInterval(this.heartbeat);
  }

  /** Fetch now rather than at the next poll. */
  wake(): void {
    this.woken = true;
    const wakeUp = this.wakeUp;
    if (wakeUp === undefined) return;
    this.wakeUp = undefined;
    clearTimeout(this.wakeTimer);
    wakeUp();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.woken = false;
      const want = Math.min(this.options.fetchBatchSize, this.room.free);
      if (want > 0) {
        let jobs: JobWithMetadata<Envelope>[] = [];
        try {
          this.counts.fetches++;
          jobs = await this.boss.fetch<Envelope>(this.queue, {
            batchSize: want,
            includeMetadata: true,
          });
        } catch (error) {
          this.options.onError(error);
        }
        for (const job of jobs) this.take(job);
        // A full batch says more is waiting: fetch again at once.
        if (jobs.length === want) continue;
      }
      if (this.woken || this.stopped) continue;
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        this.wakeTimer = setTimeout(() => this.wake(), this.options.pollIntervalMs);
      });
    }
  }

  private take(job: JobWithMetadata<Envelope>): void {
    const attempt: JobAttempt = { id: job.id, retryCount: job.retryCount };
    const claim = new AbortController();
    this.held.set(job.id, { attempt, type: job.data.t, claim });
    this.room.count++;
    this.counts.fetched++;
    // An attempt after the first whose predecessor wrote no failure of ours: that one never
    // ended here. A task handed back at a drain keeps its attempt; it ran in part if it started.
    const output = job.output as Partial<FailureOutput> | Partial<HandedBackOutput> | null;
    const redelivered =
      output?.nwp === 'handed-back'
        ? output.started === true
        : job.retryCount > 0 && output?.nwp !== 'failed';
    const last = job.retryCount >= job.retryLimit;
    const reply = job.data.c;
    this.run(new Delivery(job.id, job.data, job.retryCount, redelivered), claim.signal).then(
      (value) =>
        reply === undefined
          ? this.completions.add(attempt)
          : void this.completedWithResult(attempt, job.data.t, last, reply, value),
      (error: unknown) => void this.failed(attempt, job.data.t, last, error, reply),
    );
  }

  private async complete(batch: JobAttempt[]): Promise<void> {
    try {
      this.counts.completed += affected(await this.boss.complete(this.queue, batch));
    } catch (error) {
      this.counts.writeErrors++;
      this.options.onError(error);
    }
    for (const attempt of batch) this.release(attempt);
  }

  /** A submit()'s task: its result is stored on the job, then sent to the submitter. */
  private async completedWithResult(
    attempt: JobAttempt,
    type: string,
    last: boolean,
    reply: string,
    value: unknown,
  ): Promise<void> {
    const bad = findNotJson(value, 'result');
    if (bad !== undefined) {
      const error = new NotJsonError('result', type, bad.path, bad.found);
      return this.failed(attempt, type, last, error, reply);
    }
    const output: ResultOutput = value === undefined ? { nwp: 'done' } : { nwp: 'done', v: value };
    try {
      const result = await this.boss.complete(this.queue, attempt, output as unknown as object);
      // Not ours any more (the claim lapsed and another replica took it): that one replies.
      if (affected(result) === 1) {
        this.counts.completed++;
        await this.notify(reply, { id: attempt.id, ok: true, v: value });
      }
    } catch (error) {
      this.counts.writeErrors++;
      this.options.onError(error);
    }
    this.release(attempt);
  }

  private async notify(channel: string, outcome: Outcome): Promise<void> {
    let payload = JSON.stringify(outcome);
    if (Buffer.byteLength(payload) > MAX_NOTIFY_BYTES) {
      if ('e' in outcome) {
        const message = outcome.e.message.slice(0, 2_000);
        payload = JSON.stringify({ ...outcome, e: { ...outcome.e, message } });
      } else payload = JSON.stringify({ id: outcome.id, big: true });
    }
    await this.boss.getDb().executeSql('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  private async failed(
    attempt: JobAttempt,
    type: string,
    last: boolean,
    error: unknown,
    reply?: string,
  ): Promise<void> {
    // Cancelled by the pool's drain (queued at its deadline, or running then and ended by
    // ctx.signal): not the task's failure, so it goes back as it was, using no attempt.
    if (error instanceof TaskCancelledError && error.reason !== 'aborted')
      return this.handBack(attempt, error.reason === 'deadline');
    const e = error as { name?: unknown; message?: unknown; code?: unknown } | null;
    const output: FailureOutput = {
      nwp: 'failed',
      name: typeof e?.name === 'string' ? e.name : 'Error',
      message: typeof e?.message === 'string' ? e.message : String(error),
    };
    if (typeof e?.code === 'string') output.code = e.code;
    try {
      const result = await this.boss.fail(this.queue, attempt, output as unknown as object);
      // pg-boss has copied it to the dead-letter queue, but the failed job would still hold
      // the session. By id: a fenced delete leaves failed jobs alone. Only if this fail was
      // ours (affected), not after the claim lapsed and another replica took the job.
      const ours = affected(result) === 1;
      if (ours) this.counts.failed++;
      if (last && ours && this.options.onFailure === 'dead-letter')
        await this.boss.deleteJob(this.queue, attempt.id);
      const attempts = attempt.retryCount + 1;
      if (last && ours && reply !== undefined) {
        await this.notify(reply, { id: attempt.id, ok: false, e: output, attempts });
      } else if (last && ours) {
        // An enqueued task failed for good and nobody awaits it: say so, once.
        const { name, message, code } = output;
        this.options.onError(
          new ClusterTaskFailedError(type, attempt.id, name, message, code, attempts),
        );
      }
    } catch (writeError) {
      this.counts.writeErrors++;
      this.options.onError(writeError);
    }
    this.release(attempt);
  }

  /**
   * Puts a job this replica holds back in its queue as it was before the fetch (pg-boss's
   * restore(), fenced to our attempt as complete() and fail() are, so that a claim that lapsed
   * meanwhile is left to the replica that has it): its session's head again, its retry count
   * kept. The output tells the next attempt whether this one had started.
   */
  private async handBack(attempt: JobAttempt, started: boolean): Promise<void> {
    const output: HandedBackOutput = { nwp: 'handed-back', started };
    try {
      const { rows } = await this.boss.getDb().executeSql(
        `UPDATE ${this.options.schema}.job
            SET state = 'created', started_on = NULL, heartbeat_on = NULL, upsert_by_key = NULL,
                output = $4::jsonb
          WHERE name = $1 AND id = $2::uuid AND state = 'active' AND retry_count = $3
          RETURNING id`,
        [this.queue, attempt.id, attempt.retryCount, JSON.stringify(output)],
      );
      this.counts.handedBack += rows.length;
    } catch (writeError) {
      // Not written: the job stays active here and its heartbeat lapses once we stop.
      this.counts.writeErrors++;
      this.options.onError(writeError);
    }
    this.release(attempt);
  }

  private release(attempt: JobAttempt): void {
    this.held.delete(attempt.id);
    const wasFull = this.room.free <= 0;
    this.room.count--;
    // Its session's next job is likely ready now.
    this.wake();
    if (wasFull) this.roomFreed();
    if (this.held.size === 0 && this.emptied !== undefined) {
      const emptied = this.emptied;
      this.emptied = undefined;
      emptied();
    }
  }

  /**
   * Refreshes the heartbeat of every held job (fenced to our attempts, as pg-boss's own worker
   * does). One not refreshed is no longer ours: its heartbeat lapsed and another replica took
   * it, so its task here is aborted. A heartbeat that failed says nothing: nothing is aborted.
   */
  private touch(): void {
    if (this.held.size === 0) return;
    const touched = [...this.held.values()];
    this.boss
      .touch(
        this.queue,
        touched.map((h) => h.attempt),
      )
      .then(
        (result) => {
          const settled = (result as { settled?: string[] }).settled;
          if (settled === undefined) return;
          const refreshed = new Set(settled);
          for (const h of touched) {
            // Released meanwhile: its outcome is written. (One whose outcome is being written
            // is aborted, which does nothing to a task that has settled.)
            if (refreshed.has(h.attempt.id) || this.held.get(h.attempt.id) !== h) continue;
            h.claim.abort(new ClusterClaimLostError(h.type, h.attempt.id));
          }
        },
        (error: unknown) => this.options.onError(error),
      );
  }
}

/**
 * How many of the jobs a complete() or fail() named it settled: fewer where our claim had
 * lapsed and another replica took the job (the write is fenced to our attempt), and those are
 * not counted as ours.
 */
function affected(result: unknown): number {
  return (result as { affected?: number }).affected ?? 0;
}

/**
 * Cluster mode of one pool: a durable intake in PostgreSQL (pg-boss) in front of the pool's
 * in-process Dispatcher. Invariant: a task whose enqueue() resolved is committed to a queue and
 * runs, on some replica, until one attempt completes or the queue's retries are spent; a
 * session's tasks run one at a time in enqueue order across all replicas (key_strict_fifo on
 * the session id), and within this replica through the Dispatcher's own lanes.
 * pg-boss is loaded only by start(): without cluster mode nothing of it is.
 */
import { randomUUID } from 'node:crypto';
import type { PgBoss } from 'pg-boss';
import type { BatchOptions } from '../core/batch.js';
import type { Dispatcher } from '../core/dispatcher.js';
import type { DrainReport } from '../core/drain-report.js';
import { InvalidOptionError } from '../core/errors.js';
import { checkDelay } from '../core/options.js';
import type { DrainOptions, HandlerRegistration } from '../core/submit-options.js';
import type { TaskHandlerFn } from '../core/task.js';
import {
  type ClusterBatchHandlerFn,
  type ClusterTaskContext,
  type Envelope,
  Delivery,
  clusterBatchHandler,
  clusterHandler,
} from './cluster.delivery.js';
import { ClusterNotRunningError, ClusterUnavailableError, NotJsonError } from './cluster.errors.js';
import { ClusterDatabase } from './cluster.database.js';
import { HeldCount, ShardFetcher } from './cluster.fetcher.js';
import type { ClusterStats, ClusterWideStats } from './cluster.stats.js';
import {
  type ClusterOptions,
  type ResolvedClusterOptions,
  resolveClusterOptions,
} from './cluster.options.js';
import { ResultListener } from './cluster.results.js';
import { ShardWriter } from './cluster.writer.js';
import { findNotJson } from './json.js';

type ClusterState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

export interface ClusterEnqueueOptions {
  /** Tasks of one session run one at a time, in enqueue order, on whichever replicas. */
  sessionId?: string;
}

export interface ClusterSubmitOptions extends ClusterEnqueueOptions {
  /** How long to await the result before ClusterSubmitTimeoutError. Default cluster.submitTimeoutMs. */
  timeoutMs?: number;
}

export class Cluster {
  readonly options: ResolvedClusterOptions;
  /** Queue names, shards, opening and reading the database (no connection of its own). */
  private readonly database: ClusterDatabase;
  private state: ClusterState = 'created';
  private starting: Promise<void> | undefined;
  private stopping: Promise<DrainReport> | undefined;
  /** The stop's deadline, brought forward by a second stop() before the drain began. */
  private deadline: { ms: number; drain?: DrainOptions | undefined } = { ms: Infinity };
  private draining = false;
  private boss: PgBoss | undefined;
  private ownsBoss = false;
  private fetchers: ShardFetcher[] = [];
  private writers: ShardWriter[] = [];
  private readonly room: HeldCount;
  private results: ResultListener | undefined;
  /** Per session, the last store under way on this replica (see inOrder). */
  private readonly storing = new Map<string, Promise<void>>();
  /** This replica's reply channel for submit() results. */
  private readonly channel = `nwp_r_${randomUUID().replaceAll('-', '')}`;

  constructor(
    private readonly dispatcher: Dispatcher,
    options: ClusterOptions,
  ) {
    this.options = resolveClusterOptions(options);
    this.room = new HeldCount(this.options.maxHeld);
    this.database = new ClusterDatabase(this.options);
  }

  /** The name of shard `i`'s queue. */
  queueName(shard: number): string {
    return this.database.queueName(shard);
  }

  get deadLetterQueue(): string {
    return this.database.deadLetterQueue;
  }

  /**
   * Registers a handler on the pool for cluster tasks and in-process ones alike; a cluster
   * task's ctx is a ClusterTaskContext (its attempt counted on every replica, `redelivered`).
   * A batch handler (the `batch` option) gathers fetched tasks as in-process; each item's
   * ctx is a ClusterTaskContext, and each item's outcome settles its own job.
   */
  registerHandler<P, R>(
    type: string,
    handler: ClusterBatchHandlerFn<P, R>,
    options: HandlerRegistration & { batch: BatchOptions },
  ): void;
  registerHandler<P, R>(
    type: string,
    handler: (payload: P, ctx: ClusterTaskContext) => R | Promise<R>,
    options?: string | HandlerRegistration,
  ): void;
  registerHandler(
    type: string,
    handler: (...args: any[]) => unknown,
    options?: string | HandlerRegistration,
  ): void {
    const batch = typeof options === 'object' && options?.batch !== undefined;
    this.dispatcher.registerHandler(
      type,
      batch
        ? (clusterBatchHandler(handler as ClusterBatchHandlerFn) as unknown as TaskHandlerFn)
        : clusterHandler(handler as TaskHandlerFn),
      options,
    );
  }

  /**
   * Connects, makes the queues, and starts fetching. Register handlers first. A second call
   * returns the first one's promise; a call after stop() began rejects with
   * ClusterNotRunningError (a stopped Cluster does not start again: make a new one).
   */
  start(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped')
      return Promise.reject(new ClusterNotRunningError(this.state, 'start'));
    return (this.starting ??= this.connectAndFetch());
  }

  private async connectAndFetch(): Promise<void> {
    this.state = 'starting';
    try {
      if (this.options.boss !== undefined) this.boss = this.options.boss as PgBoss;
      else {
        this.boss = await this.database.open();
        this.ownsBoss = true;
      }
      await this.database.makeQueues(this.boss);
    } catch (error) {
      this.state = 'stopped';
      if (this.ownsBoss) await this.boss?.stop({ graceful: false }).catch(() => {});
      this.ownsBoss = false;
      throw error;
    }
    // stop() was called meanwhile: it awaits this start, then closes; nothing is fetched.
    if (this.stopping !== undefined) return;
    const boss = this.boss;
    for (let shard = 0; shard < this.options.shards; shard++) {
      this.writers.push(new ShardWriter(boss, this.queueName(shard)));
      this.fetchers.push(
        new ShardFetcher(
          boss,
          this.queueName(shard),
          this.options,
          this.room,
          (delivery, claim) => this.runLocally(delivery, claim),
          () => this.fetchers.forEach((f) => f.wake()),
        ),
      );
    }
    this.dispatcher.start();
    this.state = 'running';
    for (const fetcher of this.fetchers) fetcher.start();
  }

  /**
   * Stores a task in its session's queue; resolves with the job id once it is committed.
   * The payload must be JSON (NotJsonError otherwise, before anything is stored).
   */
  async enqueue<P = unknown>(
    type: string,
    payload: P,
    options: ClusterEnqueueOptions = {},
  ): Promise<string> {
    const job = this.prepare(type, payload, options);
    const id = randomUUID();
    return this.inOrder(job.key, async () => {
      await this.store(job, type, id);
      return id;
    });
  }

  /**
   * Stores a task like enqueue(), then resolves with its handler's result, wherever it ran
   * (or rejects with ClusterTaskFailedError after its last attempt, ClusterSubmitTimeoutError
   * after `timeoutMs`). Payload and result must be JSON.
   */
  async submit<R = unknown, P = unknown>(
    type: string,
    payload: P,
    options: ClusterSubmitOptions = {},
  ): Promise<R> {
    const { timeoutMs = this.options.submitTimeoutMs } = options ?? {};
    checkDelay('timeoutMs', timeoutMs, false);
    const job = this.prepare(type, payload, options);
    if (this.boss!.getDb().listen === undefined) {
      throw new InvalidOptionError(
        'cluster.boss',
        'a PgBoss whose database adapter has no listen()',
        'a PgBoss on a connection of its own (new PgBoss({ connectionString })) or an adapter with listen(): submit() gets results by LISTEN/NOTIFY. enqueue() needs neither',
      );
    }
    const results = (this.results ??= new ResultListener(
      this.boss!,
      this.channel,
      this.options.onError,
    ));
    job.data.c = this.channel;
    // Our own id, awaited before the job exists: its outcome cannot come before we listen for it.
    const id = randomUUID();
    const stored = this.inOrder(job.key, async () => {
      await results.listen().catch((error: unknown) => {
        throw new ClusterUnavailableError(type, this.database.target, error);
      });
      const result = results.wait(id, job.queue, type, timeoutMs);
      try {
        await this.store(job, type, id);
      } catch (error) {
        results.settle(id, undefined, error);
      }
      // Wrapped: the session's next store waits for this one to be stored, not for its result.
      return { result };
    });
    return (await (
      await stored
    ).result) as R;
  }

  /**
   * Stores a job through its shard's writer (calls made together share one INSERT); a failed
   * write is ClusterUnavailableError, naming what to check. Then wakes the shard's fetcher.
   */
  private async store(
    job: { shard: number; key: string; data: Envelope },
    type: string,
    id: string,
  ): Promise<void> {
    try {
      await this.writers[job.shard]!.store({ id, singletonKey: job.key, data: job.data });
    } catch (error) {
      throw new ClusterUnavailableError(type, this.database.target, error);
    }
    // This replica fetches what it stored now rather than at its next poll (other replicas
    // still poll: waking them all on every store cost more than it saved, see docs/cluster.md).
    this.fetchers[job.shard]?.wake();
  }

  /**
   * Runs `store` for a session once the calls made before it for that session have stored
   * theirs, so a session's tasks are stored (and run) in the order of the calls on this
   * replica; across replicas, in the order the database commits them.
   */
  private inOrder<T>(key: string, store: () => Promise<T>): Promise<T> {
    if (key.startsWith('u:')) return store();
    const before = this.storing.get(key);
    const stored = before === undefined ? store() : before.then(store);
    const done = stored.then(
      () => {},
      () => {},
    );
    this.storing.set(key, done);
    void done.then(() => {
      if (this.storing.get(key) === done) this.storing.delete(key);
    });
    return stored;
  }

  /** Checks a task and says where it goes; throws before anything is stored. */
  private prepare(
    type: string,
    payload: unknown,
    options: ClusterEnqueueOptions,
  ): { shard: number; queue: string; key: string; data: Envelope } {
    if (this.state !== 'running') throw new ClusterNotRunningError(this.state);
    if (typeof type !== 'string' || type.length === 0) {
      throw new InvalidOptionError(
        'type',
        type,
        'a non-empty string, the task type of a registered handler',
      );
    }
    const sessionId = options?.sessionId;
    if (sessionId !== undefined && (typeof sessionId !== 'string' || sessionId.length === 0)) {
      throw new InvalidOptionError(
        'sessionId',
        sessionId,
        'a non-empty string (convert numeric ids with String(id)), or undefined',
      );
    }
    const bad = findNotJson(payload, 'payload');
    if (bad !== undefined) throw new NotJsonError('payload', type, bad.path, bad.found);
    // Session keys and unkeyed keys cannot collide: 's:' and 'u:'.
    const key = sessionId === undefined ? `u:${randomUUID()}` : `s:${sessionId}`;
    const shard = this.database.shardOf(key);
    return {
      shard,
      queue: this.queueName(shard),
      key,
      data: { t: type, s: sessionId ?? null, p: payload },
    };
  }

  /**
   * Stops fetching, then drains the pool (see Dispatcher.drain: what it holds gets until
   * `deadlineMs`; tasks cancelled by the deadline go back to their queue, see ShardFetcher),
   * writes every outcome, and closes the connection if the pool opened it. During start() it
   * waits for the start to end (nothing is fetched), then stops. A second call returns the
   * same stop, brought forward to its deadline if that is sooner.
   */
  stop(deadlineMs = Infinity, drain?: DrainOptions): Promise<DrainReport> {
    if (this.stopping === undefined) {
      this.stopping = this.stopOnce(deadlineMs, drain);
    } else if (this.draining) {
      void this.dispatcher.drain(deadlineMs, drain);
    } else if (deadlineMs < this.deadline.ms) {
      this.deadline = { ms: deadlineMs, drain };
    }
    return this.stopping;
  }

  private async stopOnce(deadlineMs: number, drain?: DrainOptions): Promise<DrainReport> {
    this.deadline = { ms: deadlineMs, drain };
    if (this.state === 'starting') await this.starting!.catch(() => {});
    if (this.state !== 'stopped') this.state = 'stopping';
    await Promise.all(this.fetchers.map((f) => f.stop()));
    this.draining = true;
    const report = await this.dispatcher.drain(this.deadline.ms, this.deadline.drain);
    await Promise.all(this.fetchers.map((f) => f.whenEmpty()));
    await this.results?.close();
    if (this.ownsBoss) await this.boss?.stop({ graceful: true, close: true });
    this.state = 'stopped';
    return report;
  }

  stats(): ClusterStats {
    const stats: ClusterStats = {
      held: this.room.count,
      fetches: 0,
      fetched: 0,
      completed: 0,
      failed: 0,
      handedBack: 0,
      writeErrors: 0,
    };
    for (const f of this.fetchers) {
      stats.fetches += f.counts.fetches;
      stats.fetched += f.counts.fetched;
      stats.completed += f.counts.completed;
      stats.failed += f.counts.failed;
      stats.handedBack += f.counts.handedBack;
      stats.writeErrors += f.counts.writeErrors;
    }
    return stats;
  }

  /** The whole cluster, read from the database now (a few queries per shard). */
  clusterStats(): Promise<ClusterWideStats> {
    return this.database.clusterStats(this.running());
  }

  /**
   * onFailure 'block': runs the session's failed task again (ctx.attempt counts on), then its
   * later tasks. False when the session is not blocked.
   */
  async retrySession(sessionId: string): Promise<boolean> {
    const found = await this.database.failedTask(this.running(), sessionId);
    if (found === undefined) return false;
    await this.running().retry(found.queue, found.id);
    return true;
  }

  /** onFailure 'block': drops the session's failed task, so its later tasks run. False when not blocked. */
  async skipSession(sessionId: string): Promise<boolean> {
    const found = await this.database.failedTask(this.running(), sessionId);
    if (found === undefined) return false;
    await this.running().deleteJob(found.queue, found.id);
    return true;
  }

  private running(): PgBoss {
    if (this.boss === undefined || this.state === 'created' || this.state === 'stopped')
      throw new ClusterNotRunningError(this.state);
    return this.boss;
  }

  private runLocally(delivery: Delivery, claim: AbortSignal): Promise<unknown> {
    const { t, s } = delivery.envelope;
    // One attempt here; the queue's retries take over from there (on any replica, in order).
    // A lost claim withdraws the task or aborts its ctx.signal (ShardFetcher.touch).
    return this.dispatcher.submit(
      t,
      delivery,
      s === null ? { retry: 1, signal: claim } : { sessionId: s, retry: 1, signal: claim },
    );
  }
}

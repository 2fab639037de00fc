/**
 * Stores tasks in a shard queue, many per statement (group commit). Invariant: a store's
 * promise resolves only once its job is committed, and rejects if it was not (the whole
 * statement failed, or the row was refused). At most one INSERT per queue is under way; the
 * stores that arrive meanwhile (or in the same turn) go together in the next one, so under
 * load the statements grow instead of queueing for the connection pool, and when idle a
 * store costs one round trip, as a send() would.
 * Order: one INSERT gives its rows the same created_on, so two jobs of one session must never
 * share one. Cluster.inOrder guarantees it (a session's next store starts after its last one
 * resolved); the writer does not reorder stores of different sessions either.
 */
import type { JobInsert, PgBoss } from 'pg-boss';

interface Store {
  job: JobInsert & { id: string };
  resolve(): void;
  reject(error: unknown): void;
}

/** Rows per INSERT at most: a statement's JSON stays a few hundred kB for small payloads. */
export const MAX_ROWS_PER_INSERT = 1_000;

export class ShardWriter {
  private pending: Store[] = [];
  private writing = false;
  private scheduled = false;

  constructor(
    private readonly boss: PgBoss,
    readonly queue: string,
  ) {}

  store(job: JobInsert & { id: string }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      if (this.writing || this.scheduled) return;
      this.scheduled = true;
      // The stores of this turn go together.
      setImmediate(() => void this.write());
    });
  }

  private async write(): Promise<void> {
    this.scheduled = false;
    this.writing = true;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_ROWS_PER_INSERT);
      try {
        const ids = await this.boss.insert(
          this.queue,
          batch.map((s) => s.job),
          { returnId: true },
        );
        const stored = new Set(ids ?? []);
        for (const s of batch) {
          if (stored.has(s.job.id)) s.resolve();
          else s.reject(new Error(`pg-boss stored no job ${s.job.id} in ${this.queue}`));
        }
      } catch (error) {
        for (const s of batch) s.reject(error);
      }
    }
    this.writing = false;
  }
}

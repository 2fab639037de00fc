/**
 * Stores tasks in a shard queue, many per INSERT (GroupCommit: at most one under way per
 * queue). Invariant: a store's promise resolves only once its job is committed, and rejects if
 * it was not (the whole statement failed, or the row was refused).
 * Order: one INSERT gives its rows the same created_on, so two jobs of one session must never
 * share one. Cluster.inOrder guarantees it (a session's next store starts after its last one
 * resolved); the writer does not reorder stores of different sessions either.
 */
import type { JobInsert, PgBoss } from 'pg-boss';
import { GroupCommit } from './group-commit.js';

interface Store {
  job: JobInsert & { id: string };
  resolve(): void;
  reject(error: unknown): void;
}

/** Rows per INSERT at most: a statement's JSON stays a few hundred kB for small payloads. */
export const MAX_ROWS_PER_INSERT = 1_000;

export class ShardWriter {
  private readonly stores = new GroupCommit<Store>(
    (batch) => this.insert(batch),
    MAX_ROWS_PER_INSERT,
  );

  constructor(
    private readonly boss: PgBoss,
    readonly queue: string,
  ) {}

  store(job: JobInsert & { id: string }): Promise<void> {
    return new Promise((resolve, reject) => this.stores.add({ job, resolve, reject }));
  }

  private async insert(batch: Store[]): Promise<void> {
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
}

/**
 * Writes items many per statement (group commit). Invariant: every item added is handed to
 * `write` exactly once, in the order added; at most one `write` is under way, and the items
 * added meanwhile (or in the same turn) go together in the next one. So under load the
 * statements grow instead of queueing for the connection pool, and when idle an item costs
 * one round trip. `write` settles its items itself (it must not reject).
 */
export class GroupCommit<T> {
  private pending: T[] = [];
  private writing = false;
  private scheduled = false;

  constructor(
    private readonly write: (batch: T[]) => Promise<void>,
    /** Most items per statement. */
    private readonly maxBatch = Infinity,
  ) {}

  add(item: T): void {
    this.pending.push(item);
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    // The items of this turn go together.
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    this.scheduled = false;
    this.writing = true;
    while (this.pending.length > 0) {
      await this.write(this.pending.splice(0, this.maxBatch));
    }
    this.writing = false;
  }
}

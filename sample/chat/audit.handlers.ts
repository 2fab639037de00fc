import { Injectable } from '@nestjs/common';
import { type BatchContext, type BatchItem, TaskHandler } from '../../lib/index.js';

export interface AuditEntry {
  conversationId: string;
  seq: number;
}

/** Writes an audit row per processed message, in bulk: one write per batch of rows. */
@Injectable()
export class AuditHandlers {
  entries = 0;
  writes = 0;
  /** Rows of one conversation written out of order: the batch rules say never. */
  outOfOrder = 0;
  private readonly last = new Map<string, number>();

  @TaskHandler('audit.write', { batch: { maxSize: 50, maxWaitMs: 10 } })
  async write(items: BatchItem<AuditEntry>[], _ctx: BatchContext): Promise<void> {
    for (const { payload } of items) {
      if (payload.seq <= (this.last.get(payload.conversationId) ?? -1)) this.outOfOrder++;
      this.last.set(payload.conversationId, payload.seq);
    }
    // Stands in for one INSERT of many rows: a round trip, whatever the row count.
    await new Promise((resolve) => setTimeout(resolve, 2));
    this.entries += items.length;
    this.writes++;
  }
}

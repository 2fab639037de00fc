import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { OrderLog } from '../chat/order-log.js';

/** The table every replica writes to; sample/cluster/main.ts makes it afresh for each run. */
export const ORDER_TABLE = 'sample_conversation';

export const ORDER_TABLE_DDL = `CREATE TABLE ${ORDER_TABLE} (
  id text PRIMARY KEY,
  next_seq int NOT NULL,      -- the seq its next message must have
  running int NOT NULL,       -- its messages running now, on any replica
  runs int NOT NULL,
  out_of_order int NOT NULL DEFAULT 0,
  overlapping int NOT NULL DEFAULT 0,
  replicas int NOT NULL       -- a bit per replica that ran one of its messages
)`;

/**
 * The order log of cluster mode: a conversation's messages run on several replicas, so what
 * the handler saw is kept where they all see it. One statement per start checks the order
 * and the exclusion atomically (the row is locked while it runs).
 */
@Injectable()
export class SharedOrderLog extends OrderLog implements OnApplicationShutdown {
  private readonly db: pg.Pool;

  constructor(
    connectionString: string,
    private readonly replica: number,
  ) {
    super();
    this.db = new pg.Pool({ connectionString, max: 4 });
  }

  override async started(conversationId: string, seq: number): Promise<void> {
    await this.db.query(
      `INSERT INTO ${ORDER_TABLE} AS c (id, next_seq, running, runs, out_of_order, replicas)
         VALUES ($1, $2 + 1, 1, 1, ($2 <> 0)::int, 1 << $3)
       ON CONFLICT (id) DO UPDATE SET
         out_of_order = c.out_of_order + (c.next_seq <> $2)::int,
         overlapping = c.overlapping + (c.running > 0)::int,
         next_seq = $2 + 1, running = c.running + 1, runs = c.runs + 1,
         replicas = c.replicas | (1 << $3)`,
      [conversationId, seq, this.replica],
    );
  }

  override async finished(conversationId: string): Promise<void> {
    await this.db.query(`UPDATE ${ORDER_TABLE} SET running = running - 1 WHERE id = $1`, [
      conversationId,
    ]);
  }

  // After the pool drained (in beforeApplicationShutdown): no handler writes any more.
  async onApplicationShutdown(): Promise<void> {
    await this.db.end();
  }
}

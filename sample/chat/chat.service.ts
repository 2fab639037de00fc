import { Injectable } from '@nestjs/common';
import { Cluster, Dispatcher, InjectCluster } from '../../lib/index.js';
import type { ChatMessage, ProcessedMessage } from './chat-message.js';

@Injectable()
export class ChatService {
  constructor(
    private readonly pool: Dispatcher,
    // Null unless the pool has the `cluster` option (npm run sample:cluster).
    @InjectCluster() private readonly cluster: Cluster | null,
  ) {}

  async send(message: ChatMessage): Promise<ProcessedMessage> {
    const sessionId = message.conversationId;
    // Cluster mode: stored in PostgreSQL, run on whichever replica fetches it, the result sent back.
    if (this.cluster !== null)
      return this.cluster.submit<ProcessedMessage>('chat.message', message, { sessionId });
    const processed = await this.pool.submit<ProcessedMessage>('chat.message', message, {
      sessionId,
    });
    // Fire and forget, in order per conversation; the audit handler writes rows in bulk.
    await this.pool.enqueue(
      'audit.write',
      { conversationId: sessionId, seq: message.seq },
      {
        sessionId: `audit:${sessionId}`,
      },
    );
    return processed;
  }

  /** Accepts a message without awaiting its reply: in cluster mode, once it is committed. */
  async accept(message: ChatMessage): Promise<void> {
    const sessionId = message.conversationId;
    if (this.cluster !== null) await this.cluster.enqueue('chat.message', message, { sessionId });
    else await this.pool.enqueue('chat.message', message, { sessionId });
  }
}

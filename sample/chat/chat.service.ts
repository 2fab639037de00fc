import { Injectable } from '@nestjs/common';
import { Dispatcher } from '../../lib/index.js';
import type { ChatMessage, ProcessedMessage } from './chat-message.js';

@Injectable()
export class ChatService {
  constructor(private readonly pool: Dispatcher) {}

  async send(message: ChatMessage): Promise<ProcessedMessage> {
    const sessionId = message.conversationId;
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
}

import { Injectable } from '@nestjs/common';
import { Dispatcher } from '../../lib/index.js';
import type { ChatMessage, ProcessedMessage } from './chat-message.js';

@Injectable()
export class ChatService {
  constructor(private readonly pool: Dispatcher) {}

  send(message: ChatMessage): Promise<ProcessedMessage> {
    return this.pool.submit('chat.message', message, { sessionId: message.conversationId });
  }
}

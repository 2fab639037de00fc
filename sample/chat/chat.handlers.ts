import { Injectable } from '@nestjs/common';
import { type TaskContext, TaskHandler } from '../../lib/index.js';
import type { ChatMessage, ProcessedMessage } from './chat-message.js';
import { OrderLog } from './order-log.js';

@Injectable()
export class ChatHandlers {
  constructor(private readonly log: OrderLog) {}

  /** Runs one message at a time per conversation, in order; conversations run in parallel. */
  @TaskHandler('chat.message')
  async onMessage(message: ChatMessage, ctx: TaskContext): Promise<ProcessedMessage> {
    await this.log.started(message.conversationId, message.seq);
    try {
      // Stands in for I/O: a model call, a database write.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
      return {
        conversationId: message.conversationId,
        seq: message.seq,
        lane: ctx.laneId,
        reply: `echo: ${message.text}`,
      };
    } finally {
      await this.log.finished(message.conversationId);
    }
  }
}

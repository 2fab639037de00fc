import { BadRequestException, Body, Controller, Get, Param, Post } from '@nestjs/common';
import { Dispatcher, type PoolStats } from '../../lib/index.js';
import type { ProcessedMessage } from './chat-message.js';
import { ChatService } from './chat.service.js';

@Controller()
export class ChatController {
  private readonly nextSeq = new Map<string, number>();

  constructor(
    private readonly chat: ChatService,
    private readonly pool: Dispatcher,
  ) {}

  @Post('conversations/:id/messages')
  send(
    @Param('id') conversationId: string,
    @Body() body: { text?: unknown },
  ): Promise<ProcessedMessage> {
    if (typeof body?.text !== 'string')
      throw new BadRequestException('Send a JSON body like {"text": "hi"}.');
    const seq = this.nextSeq.get(conversationId) ?? 0;
    this.nextSeq.set(conversationId, seq + 1);
    return this.chat.send({ conversationId, seq, text: body.text });
  }

  @Get('stats')
  stats(): PoolStats {
    return this.pool.stats();
  }
}

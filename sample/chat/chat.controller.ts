import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Param,
  Post,
  Query,
  Res,
} from '@nestjs/common';
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

  /**
   * Sends a message and answers with its reply; with `?wait=false`, answers 202 once the
   * message is accepted. A client talking to several replicas numbers its messages (`seq`):
   * each replica counts only the messages it received.
   */
  @Post('conversations/:id/messages')
  async send(
    @Param('id') conversationId: string,
    @Body() body: { text?: unknown; seq?: unknown },
    @Query('wait') wait: string | undefined,
    @Res({ passthrough: true }) res: { status(code: number): unknown },
  ): Promise<ProcessedMessage | { accepted: true }> {
    if (typeof body?.text !== 'string')
      throw new BadRequestException('Send a JSON body like {"text": "hi"}.');
    if (body.seq !== undefined && !(Number.isInteger(body.seq) && (body.seq as number) >= 0))
      throw new BadRequestException('seq, when given, is the message number from 0: {"seq": 3}.');
    const seq = (body.seq as number | undefined) ?? this.nextSeq.get(conversationId) ?? 0;
    this.nextSeq.set(conversationId, seq + 1);
    const message = { conversationId, seq, text: body.text };
    if (wait !== 'false') return this.chat.send(message);
    await this.chat.accept(message);
    res.status(202);
    return { accepted: true };
  }

  @Get('stats')
  stats(): PoolStats {
    return this.pool.stats();
  }
}

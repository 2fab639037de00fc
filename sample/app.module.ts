import { Module } from '@nestjs/common';
import { WorkerPoolModule } from '../lib/index.js';
import { ChatController } from './chat/chat.controller.js';
import { ChatHandlers } from './chat/chat.handlers.js';
import { ChatService } from './chat/chat.service.js';
import { OrderLog } from './chat/order-log.js';

@Module({
  imports: [WorkerPoolModule.forRoot({ lanes: 4, maxLanes: 16, drainTimeoutMs: 5_000 })],
  controllers: [ChatController],
  providers: [ChatHandlers, ChatService, OrderLog],
})
export class AppModule {}

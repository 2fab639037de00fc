import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { WorkerPoolDashboardModule } from '../lib/dashboard/index.js';
import { WorkerPoolHealthIndicator } from '../lib/health/index.js';
import { WorkerPoolModule } from '../lib/index.js';
import { AssistantHandlers } from './chat/assistant.handlers.js';
import { AuditHandlers } from './chat/audit.handlers.js';
import { ChatController } from './chat/chat.controller.js';
import { ChatHandlers } from './chat/chat.handlers.js';
import { ChatService } from './chat/chat.service.js';
import { OrderLog } from './chat/order-log.js';
import { HealthController } from './health.controller.js';

// The module the 'cpu' pool's threads boot. Threads load JavaScript only: run from the
// TypeScript sources (under jest), they take the built copy in dist.
const CPU_MODULE = new URL(
  import.meta.url.endsWith('.ts') ? '../dist/sample/cpu/cpu.module.js' : './cpu/cpu.module.js',
  import.meta.url,
);

@Module({
  imports: [
    ScheduleModule.forRoot(),
    TerminusModule,
    WorkerPoolModule.forRoot({
      lanes: 4,
      maxLanes: 16,
      drainTimeoutMs: 5_000,
      // Conversations stay busy for the whole demo; growing the pool helps them too, since
      // in-process lanes move busy sessions between two messages (rebalance 'between-tasks').
      // Short delays so the demo shows several decisions in seconds; production keeps the defaults.
      autoscale: {
        min: 2,
        max: 12,
        enabled: false,
        history: 100,
        policy: { scaleUpDelayMs: 1_500, scaleDownDelayMs: 3_000 },
      },
    }),
    // CPU-bound work: each lane is a worker thread running CpuModule's handlers.
    WorkerPoolModule.forRoot({
      name: 'cpu',
      lanes: 2,
      maxLanes: 4,
      threads: { module: CPU_MODULE },
    }),
    // The live page of both pools at /pool: read-only, as a sample on localhost may be.
    // In production give it a guard (docs/dashboard.md).
    WorkerPoolDashboardModule.forRoot({ path: '/pool' }),
  ],
  controllers: [ChatController, HealthController],
  providers: [
    ChatHandlers,
    AssistantHandlers,
    AuditHandlers,
    ChatService,
    OrderLog,
    WorkerPoolHealthIndicator,
  ],
})
export class AppModule {}

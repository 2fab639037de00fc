import { type DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { WorkerPoolHealthIndicator } from '../../lib/health/index.js';
import { WorkerPoolModule } from '../../lib/index.js';
import { ChatController } from '../chat/chat.controller.js';
import { ChatHandlers } from '../chat/chat.handlers.js';
import { ChatService } from '../chat/chat.service.js';
import { OrderLog } from '../chat/order-log.js';
import { HealthController } from '../health.controller.js';
import { SharedOrderLog } from './shared-order-log.js';

export interface ClusterSampleOptions {
  connectionString: string;
  /** This replica's number (0, 1, 2): the order log marks which replicas ran a conversation. */
  replica: number;
}

/**
 * The sample app of AppModule, one replica of it in cluster mode: the same chat controller,
 * handlers and service, its pool fed from PostgreSQL. Left out: the audit batch handler
 * (its rows are counted in memory per process), the thread pool, the autoscaler and the live view.
 */
@Module({})
export class ClusterAppModule {
  static forRoot({ connectionString, replica }: ClusterSampleOptions): DynamicModule {
    return {
      module: ClusterAppModule,
      imports: [
        TerminusModule,
        WorkerPoolModule.forRoot({
          lanes: 4,
          drainTimeoutMs: 5_000,
          cluster: {
            connectionString,
            // Its own schema, so a run can start from empty queues (main.ts drops it first).
            schema: 'nwp_sample',
            queuePrefix: 'sample',
          },
        }),
      ],
      controllers: [ChatController, HealthController],
      providers: [
        ChatHandlers,
        ChatService,
        { provide: OrderLog, useFactory: () => new SharedOrderLog(connectionString, replica) },
        WorkerPoolHealthIndicator,
      ],
    };
  }
}

// The module each thread of the 'cpu' pool boots (threads.module): its handler runs in a worker thread.
import { Injectable, Module } from '@nestjs/common';
import { threadId } from 'node:worker_threads';
import { TaskHandler } from 'nest-worker-pool';

@Injectable()
export class CpuHandlers {
  @TaskHandler('thread.id', { pool: 'cpu' })
  threadId() {
    return threadId;
  }
}

@Module({ providers: [CpuHandlers] })
export class CpuModule {}

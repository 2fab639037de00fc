import { createHash } from 'node:crypto';
import { Injectable, Module } from '@nestjs/common';
import { TaskHandler } from '../../lib/index.js';
import { BLOCK } from './block.js';

/** The handlers each thread of the benchmark's thread-mode pool runs (bench/threads.ts). */
@Injectable()
class BenchHandlers {
  @TaskHandler('noop')
  noop(x: number): number {
    return x;
  }

  /** sha256 of 64 KiB: the same work as the piscina worker's `hash`. */
  @TaskHandler('hash')
  hash(x: number): string {
    return createHash('sha256').update(BLOCK).update(String(x)).digest('hex');
  }
}

@Module({ providers: [BenchHandlers] })
export class BenchModule {}

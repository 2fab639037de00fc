import { Injectable } from '@nestjs/common';
import { TaskHandler, type ThreadTaskContext } from '../../lib/index.js';
import { nextDigest } from './digest.js';

export interface DigestChunk {
  docId: string;
  seq: number;
  seed: number;
  /** What the caller last got back: the state to rebuild from when the document arrives here. */
  checkpoint: { digest: string; count: number };
}

export interface DigestResult {
  docId: string;
  seq: number;
  digest: string;
  count: number;
  arrived: boolean;
  threadId: number;
}

/**
 * Runs in the 'cpu' pool's worker threads: CPU-bound hashing, with each document's running
 * digest kept warm in the thread that owns the document's session.
 */
@Injectable()
export class DigestHandlers {
  private readonly docs = new Map<string, { digest: string; count: number }>();

  @TaskHandler('document.digest', { pool: 'cpu' })
  digest(job: DigestChunk, ctx: ThreadTaskContext): DigestResult {
    // A document new to this thread (first chunk, or moved here by a resize) rebuilds its state.
    if (ctx.arrived) this.docs.set(job.docId, { ...job.checkpoint });
    const doc = this.docs.get(job.docId)!;
    doc.digest = nextDigest(doc.digest, job.seed);
    doc.count++;
    return { docId: job.docId, seq: job.seq, ...doc, arrived: ctx.arrived, threadId: ctx.threadId };
  }
}

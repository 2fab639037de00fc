import type { Dispatcher } from '../lib/index.js';
import type { DigestChunk, DigestResult } from './cpu/digest.handlers.js';
import { nextDigest } from './cpu/digest.js';

export interface CpuDemoResult {
  tasks: number;
  failed: number;
  outOfOrder: number;
  wrongDigests: number;
  arrivals: number;
  durationMs: number;
}

/**
 * Documents hashed chunk by chunk in the 'cpu' pool's threads while it grows and shrinks:
 * each document's chunks must run in order (its digest is a chain) on its thread.
 */
export async function runCpuDemo(
  pool: Dispatcher,
  docs: number,
  chunks: number,
  print: (line: string) => void,
): Promise<CpuDemoResult> {
  const began = performance.now();
  const last = new Map<string, { digest: string; count: number }>();
  const results: DigestResult[] = [];
  let failed = 0;
  const runDoc = async (docId: string) => {
    for (let seq = 0; seq < chunks; seq++) {
      const checkpoint = last.get(docId) ?? { digest: '', count: 0 };
      const job: DigestChunk = { docId, seq, seed: seq * 7919 + docId.length, checkpoint };
      try {
        const r = await pool.submit<DigestResult>('document.digest', job, { sessionId: docId });
        last.set(docId, { digest: r.digest, count: r.count });
        results.push(r);
      } catch {
        failed++;
      }
    }
  };
  const ids = Array.from({ length: docs }, (_, i) => `doc-${i}`);
  const resizes = setInterval(() => void pool.resize(pool.stats().lanes.length === 2 ? 3 : 2), 500);
  await Promise.all(ids.map(runDoc));
  clearInterval(resizes);
  await pool.resize(2);
  for (const t of pool.stats().threads ?? []) {
    print(
      `  lane ${t.laneId}: thread ${t.threadId}, utilization ${(t.utilization * 100).toFixed(0)}%, heap ${(t.heapUsed / 2 ** 20).toFixed(1)} MiB`,
    );
  }
  // The same chains computed here, one document at a time, to check the threads' work.
  let wrongDigests = 0;
  for (const docId of ids) {
    let digest = '';
    for (let seq = 0; seq < chunks; seq++) digest = nextDigest(digest, seq * 7919 + docId.length);
    if (last.get(docId)?.digest !== digest) wrongDigests++;
  }
  return {
    tasks: docs * chunks,
    failed,
    outOfOrder: results.filter((r) => r.count !== r.seq + 1).length,
    wrongDigests,
    arrivals: results.filter((r) => r.arrived).length,
    durationMs: Math.round(performance.now() - began),
  };
}

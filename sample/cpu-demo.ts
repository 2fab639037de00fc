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
 * Documents hashed chunk by chunk in the 'cpu' pool's threads, in three phases on 2, 3 and
 * 2 threads: each document's chunks must run in order (its digest is a chain), and a
 * document that a resize moves must rebuild its state on its new thread.
 */
export async function runCpuDemo(
  pool: Dispatcher,
  docs: number,
  chunksPerPhase: number,
  print: (line: string) => void,
): Promise<CpuDemoResult> {
  const began = performance.now();
  const last = new Map<string, { digest: string; count: number }>();
  const results: DigestResult[] = [];
  let failed = 0;
  const ids = Array.from({ length: docs }, (_, i) => `doc-${i}`);
  const seed = (docId: string, seq: number) => seq * 7919 + docId.length;
  const runDoc = async (docId: string, from: number) => {
    for (let seq = from; seq < from + chunksPerPhase; seq++) {
      const checkpoint = last.get(docId) ?? { digest: '', count: 0 };
      const job: DigestChunk = { docId, seq, seed: seed(docId, seq), checkpoint };
      try {
        const r = await pool.submit<DigestResult>('document.digest', job, { sessionId: docId });
        last.set(docId, { digest: r.digest, count: r.count });
        results.push(r);
      } catch {
        failed++;
      }
    }
  };
  const phases = [2, 3, 2];
  for (const [i, lanes] of phases.entries()) {
    await pool.resize(lanes); // an added lane's thread boots the module before it takes work
    const t0 = performance.now();
    const before = results.length;
    await Promise.all(ids.map((id) => runDoc(id, i * chunksPerPhase)));
    const arrived = results.slice(before).filter((r) => r.arrived).length;
    print(
      `  phase ${i + 1}: ${lanes} threads, ${docs * chunksPerPhase} chunks in ${Math.round(performance.now() - t0)} ms; ` +
        `${arrived} documents arrived on a new thread and rebuilt their state`,
    );
  }
  for (const t of pool.stats().threads ?? []) {
    print(
      `  lane ${t.laneId}: thread ${t.threadId}, utilization ${(t.utilization * 100).toFixed(0)}%, heap ${(t.heapUsed / 2 ** 20).toFixed(1)} MiB`,
    );
  }
  // The same chains computed here, one document at a time, to check the threads' work.
  const chunks = phases.length * chunksPerPhase;
  let wrongDigests = 0;
  for (const docId of ids) {
    let digest = '';
    for (let seq = 0; seq < chunks; seq++) digest = nextDigest(digest, seed(docId, seq));
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

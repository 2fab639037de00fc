/**
 * A realistic load for the sample: many chat sessions sending numbered messages, with the
 * pool resized up and down meanwhile. It records every handler start and checks, per
 * session, that messages started in the order they were sent and never overlapped.
 */
export interface LoadOptions {
  sessions: number;
  messagesPerSession: number;
  /** Sends one message; resolves when it has been processed. */
  send(sessionId: string, seq: number): Promise<unknown>;
  /** Called every `resizeEveryMs` with a step number, to resize the pool. */
  resize(step: number): Promise<unknown> | void;
  resizeEveryMs: number;
  progress(line: string): void;
}

export interface LoadResult {
  sent: number;
  settled: number;
  failed: number;
  orderViolations: number;
  overlapViolations: number;
  durationMs: number;
}

/** Kept by the handler: what started when, per session. */
export class OrderLog {
  private readonly next = new Map<string, number>();
  private readonly running = new Set<string>();
  orderViolations = 0;
  overlapViolations = 0;

  started(sessionId: string, seq: number): void {
    const expected = this.next.get(sessionId) ?? 0;
    if (seq !== expected) this.orderViolations++;
    this.next.set(sessionId, seq + 1);
    if (this.running.has(sessionId)) this.overlapViolations++;
    this.running.add(sessionId);
  }

  finished(sessionId: string): void {
    this.running.delete(sessionId);
  }
}

export async function runLoad(o: LoadOptions, log: OrderLog): Promise<LoadResult> {
  const began = Date.now();
  let settled = 0;
  let failed = 0;
  const total = o.sessions * o.messagesPerSession;
  let step = 0;
  const resizer = setInterval(() => void o.resize(step++), o.resizeEveryMs);
  const reporter = setInterval(() => o.progress(`  ${settled}/${total} messages processed`), 500);
  const work: Promise<void>[] = [];
  // Messages interleave across sessions, as real traffic does.
  for (let seq = 0; seq < o.messagesPerSession; seq++) {
    for (let s = 0; s < o.sessions; s++) {
      work.push(
        o.send(`conversation-${s}`, seq).then(
          () => void settled++,
          () => void (settled++, failed++),
        ),
      );
    }
  }
  await Promise.all(work);
  clearInterval(resizer);
  clearInterval(reporter);
  return {
    sent: total,
    settled,
    failed,
    orderViolations: log.orderViolations,
    overlapViolations: log.overlapViolations,
    durationMs: Date.now() - began,
  };
}

/**
 * A chat-like load: many conversations sending numbered messages, interleaved as real
 * traffic is, while `resize` is called on a timer.
 */
export interface LoadOptions {
  conversations: number;
  messagesPerConversation: number;
  send(conversationId: string, seq: number): Promise<unknown>;
  resize(step: number): void;
  resizeEveryMs: number;
  progress(done: number, total: number): void;
}

export interface LoadResult {
  sent: number;
  completed: number;
  failed: number;
  durationMs: number;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const began = Date.now();
  const total = o.conversations * o.messagesPerConversation;
  let completed = 0;
  let failed = 0;
  let step = 0;
  const resizer = setInterval(() => o.resize(step++), o.resizeEveryMs);
  const reporter = setInterval(() => o.progress(completed + failed, total), 250);
  const work: Promise<void>[] = [];
  for (let seq = 0; seq < o.messagesPerConversation; seq++) {
    for (let c = 0; c < o.conversations; c++) {
      work.push(
        o.send(`conversation-${c}`, seq).then(
          () => void completed++,
          () => void failed++,
        ),
      );
    }
  }
  await Promise.all(work);
  clearInterval(resizer);
  clearInterval(reporter);
  return { sent: total, completed, failed, durationMs: Date.now() - began };
}

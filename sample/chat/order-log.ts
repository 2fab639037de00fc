import { Injectable } from '@nestjs/common';

/** What the handler saw, per conversation: it proves the pool's ordering promise. */
@Injectable()
export class OrderLog {
  private readonly next = new Map<string, number>();
  private readonly running = new Set<string>();
  orderViolations = 0;
  overlapViolations = 0;

  started(conversationId: string, seq: number): void {
    if (seq !== (this.next.get(conversationId) ?? 0)) this.orderViolations++;
    this.next.set(conversationId, seq + 1);
    if (this.running.has(conversationId)) this.overlapViolations++;
    this.running.add(conversationId);
  }

  finished(conversationId: string): void {
    this.running.delete(conversationId);
  }
}

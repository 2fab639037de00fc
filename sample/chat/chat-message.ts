export interface ChatMessage {
  conversationId: string;
  /** Position of the message in its conversation, from 0. */
  seq: number;
  text: string;
}

export interface ProcessedMessage {
  conversationId: string;
  seq: number;
  lane: number;
  reply: string;
}

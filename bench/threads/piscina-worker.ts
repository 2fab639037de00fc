import { createHash } from 'node:crypto';
import { BLOCK } from './block.js';

// piscina's side of bench/threads.ts: the same two tasks as BenchModule's handlers.
export default function noop(x: number): number {
  return x;
}

export function hash(x: number): string {
  return createHash('sha256').update(BLOCK).update(String(x)).digest('hex');
}

import { createHash } from 'node:crypto';

/** 64 KiB of bytes made from a seed: a stand-in for a document chunk. */
export function chunk(seed: number): Buffer {
  const bytes = Buffer.alloc(64 * 1024);
  let x = seed | 1;
  for (let i = 0; i < bytes.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes.writeInt32LE(x, i);
  }
  return bytes;
}

/** A document's running digest: each chunk is hashed onto the one before, so order matters. */
export function nextDigest(previous: string, seed: number): string {
  return createHash('sha256').update(previous).update(chunk(seed)).digest('hex');
}

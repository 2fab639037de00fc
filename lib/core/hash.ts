/**
 * 32-bit string hash for the ring: FNV-1a over UTF-16 code units, then murmur3's
 * finalizer so that near-identical keys ("s1", "s2") land far apart on the ring.
 */
export function hash32(key: string): number {
  return finish(fnv(FNV_OFFSET, key));
}

export const FNV_OFFSET = 0x811c9dc5;

/** FNV-1a state `h` continued over `text`: hash32(a + b) === finish(fnv(fnv(FNV_OFFSET, a), b)). */
export function fnv(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h;
}

/** murmur3's finalizer over an FNV state. */
export function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The 64 KiB each CPU-bound benchmark task hashes; made once per thread. */
export const BLOCK = new Uint8Array(64 * 1024).map((_, i) => (i * 31) & 0xff);

/**
 * The built thread entry. Running from TypeScript sources (under jest), a worker thread
 * cannot load the sibling `.ts` file, so it starts the entry that `npm run build` wrote
 * to dist (the test script builds first).
 */
export function threadEntryUrl(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts')
    ? new URL('../../dist/lib/threads/thread-entry.js', here)
    : new URL('./thread-entry.js', here);
}

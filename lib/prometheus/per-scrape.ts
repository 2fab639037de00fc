/**
 * `read` once per scrape, however many metrics ask: a registry collects its metrics in one
 * synchronous pass, so the value is kept until the end of that turn's microtasks.
 */
export function perScrape<T>(read: () => T): () => T {
  let value: T | undefined;
  let kept = false;
  return () => {
    if (!kept) {
      value = read();
      kept = true;
      queueMicrotask(() => {
        kept = false;
        value = undefined;
      });
    }
    return value as T;
  };
}

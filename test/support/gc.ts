import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// Jest runs without --expose-gc; the flag set at run time exposes gc to a new context.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Collects garbage after the current job: a WeakRef made (or dereferenced) in this job keeps
 * its target alive until the job ends, so the collection waits for the next macrotask.
 */
export async function collectGarbage(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  gc();
}

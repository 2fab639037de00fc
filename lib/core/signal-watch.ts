/**
 * One 'abort' listener per AbortSignal, however many tasks (or callers waiting for room)
 * follow it: a request's signal fanned out to 1,000 tasks, or a group's signal, would
 * otherwise carry a listener each (and Node warns past 10).
 *
 * Invariant: a signal has our listener exactly while it has callbacks in `watched`; each
 * callback runs at most once, in the order it was added.
 */
interface Watched {
  readonly callbacks: Set<() => void>;
  readonly fire: () => void;
}

const watched = new WeakMap<AbortSignal, Watched>();

/** Calls `onAbort` when `signal` aborts, unless `unwatch` is called first. */
export function watch(signal: AbortSignal, onAbort: () => void): void {
  let w = watched.get(signal);
  if (w === undefined) {
    const callbacks = new Set<() => void>();
    // The record stays while it fires: a callback added meanwhile (a caller admitted when a
    // sibling left the queue) runs in the same pass, where a listener added now never would.
    const fire = () => {
      for (const callback of callbacks) {
        callbacks.delete(callback);
        try {
          callback();
        } catch (error) {
          // As a listener's throw would be: reported, and the other callbacks still run.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
      watched.delete(signal);
    };
    w = { callbacks, fire };
    watched.set(signal, w);
    signal.addEventListener('abort', fire, { once: true });
  }
  w.callbacks.add(onAbort);
}

/** Stops calling `onAbort`; the listener goes with the signal's last callback. */
export function unwatch(signal: AbortSignal, onAbort: () => void): void {
  const w = watched.get(signal);
  if (w === undefined || !w.callbacks.delete(onAbort) || w.callbacks.size > 0) return;
  if (signal.aborted) return; // firing: it ends the record itself
  watched.delete(signal);
  signal.removeEventListener('abort', w.fire);
}

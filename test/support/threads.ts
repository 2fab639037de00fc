import { SlotTable } from '../../lib/core/placement/slot-table.js';

/** The thread-mode fixture module, as `npm run build` (run by `npm test`) writes it. */
export const COUNTER_MODULE = new URL(
  '../../dist/test/fixtures/threads/counter.module.js',
  import.meta.url,
);

/** A pool's slot table after adding `lanes` in that order (a pool adds ascending ids). */
function tableOf(lanes: number[]): SlotTable {
  const table = new SlotTable();
  for (const id of lanes) table.add(id);
  return table;
}

/** `n` session ids homed on `laneId` among `lanes`. */
export function sessionsOn(laneId: number, lanes: number[], n: number, prefix = 's'): string[] {
  const table = tableOf(lanes);
  const out: string[] = [];
  for (let i = 0; out.length < n; i++)
    if (table.lookup(`${prefix}${i}`) === laneId) out.push(`${prefix}${i}`);
  return out;
}

/** The hash home of `sessionId` among `lanes`. */
export function laneOf(sessionId: string, lanes: number[]): number {
  return tableOf(lanes).lookup(sessionId);
}

/**
 * A flag a fixture handler waits on (Atomics.wait on `flag[0]`) until `release()`; the
 * handler sets `flag[1]` as it starts waiting, which `entered()` awaits.
 */
export function gate() {
  const flag = new SharedArrayBuffer(8);
  const view = new Int32Array(flag);
  return {
    flag,
    async entered(): Promise<void> {
      const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
      const w = waitAsync(view, 1, 0);
      if (w.async) await w.value;
    },
    release() {
      Atomics.store(view, 0, 1);
      Atomics.notify(view, 0);
    },
  };
}

/** The thread-mode tracing fixture (it registers an OpenTelemetry SDK in its thread). */
export const TRACED_MODULE = new URL(
  '../../dist/test/fixtures/threads/traced.module.js',
  import.meta.url,
);

// Atomics.waitAsync is in Node 20; the project's TypeScript lib predates its types.
type WaitAsync = (
  view: Int32Array,
  index: number,
  value: number,
) => { async: boolean; value: Promise<string> | string };

/** The fixture whose thread handlers report each cluster task they run (see its Run). */
export const CLUSTER_TASKS_MODULE = new URL(
  '../../dist/test/fixtures/threads/cluster-tasks.module.js',
  import.meta.url,
);

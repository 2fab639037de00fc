/**
 * Scenario 9: what capturing the caller's async context costs. The same pool with
 * `context: 'caller'` (default: each task captures its submitter's context) and
 * `context: 'none'`, side by side in interleaved rounds, keyed and unkeyed submits:
 * first with no AsyncLocalStorage in the process, then with submits made inside
 * `als.run` (as under nestjs-cls or OpenTelemetry, where Node < 24 runs async hooks for
 * every promise). Run alone: `node --expose-gc dist/bench/context.js`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { pathToFileURL } from 'node:url';
import { Dispatcher } from '../lib/core/index.js';
import { type Contender, Latch, QUICK, compare, fmtRate, fmtRatio, table } from './harness.js';
import { CONCURRENCY } from './peers.js';

export interface ContextRow {
  group: string;
  caller: number;
  none: number;
  /** 1 - caller / none: the share of throughput the capture costs. */
  cost: number;
}

export interface ContextResult {
  node: string;
  batch: number;
  rounds: number;
  rows: ContextRow[];
}

export interface ContextConfig {
  batch: number;
  minMs: number;
  rounds: number;
}

const latch = new Latch();

function pool(context: 'caller' | 'none'): Dispatcher {
  const p = new Dispatcher({
    lanes: CONCURRENCY,
    maxQueued: Infinity,
    maxQueuedPerSession: Infinity,
    context,
  });
  p.registerHandler('plain', async () => undefined);
  p.start();
  return p;
}

function contender(
  context: 'caller' | 'none',
  keys: readonly string[] | undefined,
  als: AsyncLocalStorage<object> | undefined,
): Contender {
  const p = pool(context);
  let j = 0;
  const burst = (n: number): void => {
    for (let i = 0; i < n; i++) {
      let options;
      if (keys !== undefined) {
        options = { sessionId: keys[j] };
        if (++j === keys.length) j = 0;
      }
      p.submit('plain', i, options).then(latch.hit);
    }
  };
  const store = { requestId: 'r-1' };
  return {
    name: context,
    run(n) {
      const done = latch.arm(n);
      if (als === undefined) burst(n);
      else als.run(store, burst, n);
      return done;
    },
  };
}

export async function runContext(
  cfg: ContextConfig,
  log: (row: ContextRow) => void = () => undefined,
): Promise<ContextResult> {
  const keys = Array.from({ length: 1_000 }, (_, i) => `session-${i}`);
  const rows: ContextRow[] = [];
  const group = async (
    name: string,
    k: readonly string[] | undefined,
    als?: AsyncLocalStorage<object>,
  ) => {
    const [caller, none] = await compare(
      [contender('caller', k, als), contender('none', k, als)],
      cfg,
    );
    const row = {
      group: name,
      caller: caller.opsPerSec,
      none: none.opsPerSec,
      cost: 1 - caller.opsPerSec / none.opsPerSec,
    };
    rows.push(row);
    log(row);
  };
  // No store yet: on Node < 24 async hooks are still off here.
  await group('keyed submit, no AsyncLocalStorage', keys);
  await group('unkeyed submit, no AsyncLocalStorage', undefined);
  const als = new AsyncLocalStorage<object>();
  await group('keyed submit inside als.run', keys, als);
  await group('unkeyed submit inside als.run', undefined, als);
  als.disable(); // later scenarios run without async hooks, as before
  return { node: process.version, batch: cfg.batch, rounds: cfg.rounds, rows };
}

export function printContext(r: ContextResult): string {
  return table(
    ['submit', "context: 'caller'", "context: 'none'", 'caller ÷ none', 'capture cost'],
    r.rows.map((row) => [
      row.group,
      fmtRate(row.caller),
      fmtRate(row.none),
      fmtRatio(row.caller / row.none),
      `${(row.cost * 100).toFixed(1)}%`,
    ]),
  );
}

export const CONTEXT_CONFIG: ContextConfig = QUICK
  ? { batch: 10_000, minMs: 60, rounds: 3 }
  : { batch: 10_000, minMs: 150, rounds: 9 };

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await runContext(CONTEXT_CONFIG);
  console.log(`Node ${r.node}, ${r.rounds} rounds, batches of ${r.batch}, median`);
  console.log(printContext(r));
  if (process.env.BENCH_JSON) console.log(JSON.stringify(r));
}

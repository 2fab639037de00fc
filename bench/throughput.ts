/** Scenarios 1-3: throughput at concurrency 8, peers side by side in interleaved rounds. */
import { type Contender, compare, type ThroughputResult } from './harness.js';
import {
  fastqCallback,
  fastqLanes,
  fastqPromise,
  mapChain,
  pQueue,
  pQueueLanes,
  poolEnqueue,
  poolSubmit,
  rawLoop,
  timerWork,
  trivialWork,
} from './peers.js';

export interface GroupResult {
  id: string;
  title: string;
  batch: number;
  minMs: number;
  rounds: number;
  sessions: number | null;
  results: ThroughputResult[];
}

export interface ThroughputConfig {
  /** Tasks per batch, trivial handlers. */
  batch: number;
  /** Tasks per batch, timer handlers. */
  timerBatch: number;
  minMs: number;
  timerMinMs: number;
  rounds: number;
  timerRounds: number;
}

function sessionKeys(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `session-${i}`);
}

export async function runThroughput(
  cfg: ThroughputConfig,
  log: (group: GroupResult) => void,
): Promise<GroupResult[]> {
  const items = Array.from({ length: Math.max(cfg.batch, cfg.timerBatch) }, (_, i) => i);
  const groups: GroupResult[] = [];
  const group = async (
    id: string,
    title: string,
    timer: boolean,
    sessions: number | null,
    contenders: Contender[],
  ): Promise<void> => {
    const batch = timer ? cfg.timerBatch : cfg.batch;
    const minMs = timer ? cfg.timerMinMs : cfg.minMs;
    const rounds = timer ? cfg.timerRounds : cfg.rounds;
    const results = await compare(contenders, { batch, minMs, rounds });
    const g = { id, title, batch, minMs, rounds, sessions, results };
    groups.push(g);
    log(g);
  };

  const w = trivialWork;
  await group('unkeyed-trivial', `1. unkeyed, ${w.label}`, false, null, [
    poolSubmit(w),
    poolEnqueue(w),
    pQueue(w),
    fastqPromise(w),
    fastqCallback(w),
    rawLoop(w, items),
  ]);
  for (const sessions of [1_000, 100_000]) {
    const keys = sessionKeys(sessions);
    await group(
      `keyed-${sessions}-trivial`,
      `2/3. keyed, ${sessions.toLocaleString('en')} sessions, ${w.label}`,
      false,
      sessions,
      [
        poolSubmit(w, keys),
        poolEnqueue(w, keys),
        pQueueLanes(w, keys),
        fastqLanes(w, keys),
        mapChain(w, keys),
        rawLoop(w, items),
      ],
    );
  }

  const t = timerWork;
  await group('unkeyed-timer', `1. unkeyed, ${t.label}`, true, null, [
    poolSubmit(t),
    poolEnqueue(t),
    pQueue(t),
    fastqPromise(t),
    fastqCallback(t),
    rawLoop(t, items),
  ]);
  const keys = sessionKeys(1_000);
  await group('keyed-1000-timer', `2. keyed, 1,000 sessions, ${t.label}`, true, 1_000, [
    poolSubmit(t, keys),
    poolEnqueue(t, keys),
    pQueueLanes(t, keys),
    fastqLanes(t, keys),
  ]);
  return groups;
}

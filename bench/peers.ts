/**
 * The contenders, each built for concurrency 8 and the same handler. Keyed contenders run
 * on sessions taken from `keys` round robin and keep per-session FIFO.
 */
import fastq from 'fastq';
import PQueue from 'p-queue';
import { hash32 } from '../lib/core/hash.js';
import { Dispatcher } from '../lib/core/index.js';
import { type Contender, Latch, sleep } from './harness.js';

export const CONCURRENCY = 8;

export interface Work {
  label: string;
  /** The handler; its caller collects the result. */
  plain: (x: number) => Promise<unknown>;
  /** The same handler reporting its own completion, for fire-and-forget callers. */
  counting: (x: number) => Promise<unknown>;
}

export const latch = new Latch();
let counter = 0;

export const trivialWork: Work = {
  label: 'trivial async handler',
  plain: async () => {
    counter++;
  },
  counting: async () => {
    latch.hit();
  },
};

export const timerWork: Work = {
  label: 'handler awaiting setTimeout(1 ms)',
  plain: async () => {
    await sleep(1);
  },
  counting: async () => {
    await sleep(1);
    latch.hit();
  },
};

/** Hands out keys round robin, carrying on across batches so every session gets work. */
function cycle(keys: readonly string[]): () => string {
  let j = 0;
  return () => {
    const key = keys[j];
    if (++j === keys.length) j = 0;
    return key;
  };
}

/** The pool under test: 8 lanes of concurrency 1, unbounded queues like its peers. */
export function newPool(work: Work): Dispatcher {
  const pool = new Dispatcher({
    lanes: CONCURRENCY,
    laneConcurrency: 1,
    maxQueued: Infinity,
    maxQueuedPerSession: Infinity,
  });
  pool.registerHandler('plain', work.plain);
  pool.registerHandler('counting', work.counting);
  pool.start();
  return pool;
}

export function poolSubmit(work: Work, keys?: readonly string[]): Contender {
  const pool = newPool(work);
  if (keys === undefined) {
    return {
      name: 'pool.submit',
      run(n) {
        const done = latch.arm(n);
        for (let i = 0; i < n; i++) pool.submit('plain', i).then(latch.hit);
        return done;
      },
    };
  }
  const next = cycle(keys);
  return {
    name: 'pool.submit (keyed)',
    run(n) {
      const done = latch.arm(n);
      for (let i = 0; i < n; i++) {
        pool.submit('plain', i, { sessionId: next() }).then(latch.hit);
      }
      return done;
    },
  };
}

export function poolEnqueue(work: Work, keys?: readonly string[]): Contender {
  const pool = newPool(work);
  if (keys === undefined) {
    return {
      name: 'pool.enqueue',
      run(n) {
        const done = latch.arm(n);
        for (let i = 0; i < n; i++) void pool.enqueue('counting', i);
        return done;
      },
    };
  }
  const next = cycle(keys);
  return {
    name: 'pool.enqueue (keyed)',
    run(n) {
      const done = latch.arm(n);
      for (let i = 0; i < n; i++) void pool.enqueue('counting', i, { sessionId: next() });
      return done;
    },
  };
}

export function pQueue(work: Work): Contender {
  const q = new PQueue({ concurrency: CONCURRENCY });
  return {
    name: 'p-queue (c=8)',
    run(n) {
      const done = latch.arm(n);
      for (let i = 0; i < n; i++) q.add(() => work.plain(i)).then(latch.hit);
      return done;
    },
  };
}

/** 8 p-queues of concurrency 1; a key always hashes to the same one, so it stays FIFO. */
export function pQueueLanes(work: Work, keys: readonly string[]): Contender {
  const lanes = Array.from({ length: CONCURRENCY }, () => new PQueue({ concurrency: 1 }));
  const next = cycle(keys);
  return {
    name: 'p-queue lanes (8 x c=1)',
    run(n) {
      const done = latch.arm(n);
      for (let i = 0; i < n; i++) {
        lanes[hash32(next()) % CONCURRENCY].add(() => work.plain(i)).then(latch.hit);
      }
      return done;
    },
  };
}

export function fastqPromise(work: Work): Contender {
  const q = fastq.promise(work.plain, CONCURRENCY);
  return {
    name: 'fastq promise (c=8)',
    run(n) {
      const done = latch.arm(n);
      for (let i = 0; i < n; i++) q.push(i).then(latch.hit);
      return done;
    },
  };
}

/** fastq's callback API driving the same async handler. */
function callbackWorker(work: Work): fastq.worker<unknown, number> {
  return (x, cb) => {
    work.plain(x).then((r) => cb(null, r), cb);
  };
}

export function fastqCallback(work: Work): Contender {
  const q = fastq(callbackWorker(work), CONCURRENCY);
  return {
    name: 'fastq callback (c=8)',
    run(n) {
      const done = latch.arm(n);
      for (let i = 0; i < n; i++) q.push(i, latch.hit);
      return done;
    },
  };
}

/** 8 fastq callback queues of concurrency 1, key hashed to one. */
export function fastqLanes(work: Work, keys: readonly string[]): Contender {
  const worker = callbackWorker(work);
  const lanes = Array.from({ length: CONCURRENCY }, () => fastq(worker, 1));
  const next = cycle(keys);
  return {
    name: 'fastq cb lanes (8 x c=1)',
    run(n) {
      const done = latch.arm(n);
      for (let i = 0; i < n; i++) lanes[hash32(next()) % CONCURRENCY].push(i, latch.hit);
      return done;
    },
  };
}

/**
 * The usual hand-rolled answer: a promise chain per key. The entry is deleted when it is
 * still the tail as it settles, so idle keys cost nothing. Concurrency across keys is
 * unbounded (not 8): it runs every key's head task at once.
 */
export function mapChain(work: Work, keys: readonly string[]): Contender {
  const chains = new Map<string, Promise<void>>();
  const resolved = Promise.resolve();
  const run = (key: string, x: number): Promise<unknown> => {
    const result = (chains.get(key) ?? resolved).then(() => work.plain(x));
    const release = (): void => {
      if (chains.get(key) === tail) chains.delete(key);
    };
    const tail: Promise<void> = result.then(release, release);
    chains.set(key, tail);
    return result;
  };
  const next = cycle(keys);
  return {
    name: 'Map<key, Promise> chain (unbounded)',
    run(n) {
      const done = latch.arm(n);
      for (let i = 0; i < n; i++) run(next(), i).then(latch.hit);
      return done;
    },
    // For the memory check: chains must be empty after a run.
    get size() {
      return chains.size;
    },
  } as Contender;
}

/** The ceiling: 8 `await fn(x)` loops pulling from one array; no queue, no keys, no results. */
export function rawLoop(work: Work, items: readonly number[]): Contender {
  return {
    name: 'raw loop (8 x await fn())',
    async run(n) {
      let i = 0;
      const runner = async (): Promise<void> => {
        while (i < n) await work.plain(items[i++]);
      };
      const runners: Promise<void>[] = [];
      for (let r = 0; r < CONCURRENCY; r++) runners.push(runner());
      await Promise.all(runners);
    },
  };
}

// The program a lane's worker thread runs: boots the user's Nest module, reports its
// @TaskHandler types, then runs the tasks the main thread sends and sends results back in
// batches. Ordering and exclusion are the main thread's job: a thread runs what it gets.
import 'reflect-metadata';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { Module, type Type } from '@nestjs/common';
import {
  DiscoveryModule,
  DiscoveryService,
  MetadataScanner,
  NestFactory,
  Reflector,
} from '@nestjs/core';
import { scanTaskHandlers } from '../task-handler.scanner.js';
import { ThreadContext } from './thread-task-context.js';
import {
  type FromThread,
  RESULT_STRIDE,
  type ReportedHandler,
  Settled,
  TASK_STRIDE,
  type ThreadData,
  type ToThread,
  describeValue,
  fromWire,
  toWire,
} from './thread-protocol.js';
import { isTransfer } from './transfer.js';
import type { Transferable } from 'node:worker_threads';
import type { runInTraceparent } from '../opentelemetry/thread-context.js';

/** Results wait at most this long for company before they are sent (ms of handler time). */
const FLUSH_AFTER_MS = 1;
const HEAP_EVERY_MS = 500;
/** What @Module() writes on a class (an @Injectable has metadata too, but none of these). */
const MODULE_KEYS = ['imports', 'providers', 'controllers', 'exports'];

const data = workerData as ThreadData;
const port = parentPort!;
const started = new Int32Array(data.started);
const running = new Map<number, ThreadContext>();
let handlers: Array<(payload: unknown, ctx: ThreadContext) => unknown> = [];
let types: string[] = [];
/** Messages that came before the module booted (or while tracing loads). */
let early: ToThread[] | undefined = [];
/**
 * Runs a handler in the trace context a task brings (thread mode's traceparent): loaded with
 * the first traced task; null when @opentelemetry/api cannot be imported in this thread.
 */
let joinTrace: typeof runInTraceparent | null | undefined;

let results: unknown[] = [];
let transfers: Transferable[] = [];
/** The transfer list of each result that has one, by seq: to send it alone if need be. */
let transfersOf = new Map<number, readonly Transferable[]>();
let flushQueued = false;
let lastFlush = performance.now();
let lastHeap = 0;
let closeWith: () => Promise<void> = async () => undefined;

const post = (message: FromThread, list?: readonly Transferable[]) =>
  port.postMessage(message, list as Transferable[]);

port.on('message', (message: ToThread) => {
  if (early !== undefined) early.push(message);
  else handle(message);
});

try {
  const app = await NestFactory.createApplicationContext(rootModule(await userModule()), {
    logger: data.logLevels,
    abortOnError: false,
  });
  const found = scanTaskHandlers(
    app.get(DiscoveryService),
    app.get(MetadataScanner),
    app.get(Reflector),
  ).filter((h) => h.meta.pool === data.pool);
  handlers = found.map((h) => h.fn);
  types = found.map((h) => h.meta.type);
  const reported = found.map(({ meta, origin }): ReportedHandler => {
    if (meta.batch !== undefined) {
      throw new Error(
        `@TaskHandler('${meta.type}') on ${origin} is a batch handler; batch handlers run in the main thread only, ` +
          `so remove its batch option or register it in the main app`,
      );
    }
    if (typeof meta.retry === 'object' && meta.retry.retryIf !== undefined) {
      throw new Error(
        `@TaskHandler('${meta.type}') on ${origin} has a retryIf function, which cannot cross to the main thread; ` +
          `decide retries with attempts alone, or pass retryIf per submit`,
      );
    }
    return {
      type: meta.type,
      origin: `${origin} (thread)`,
      retry: meta.retry,
      timeoutMs: meta.timeoutMs,
      overlapOnTimeout: meta.overlapOnTimeout,
      priority: meta.priority,
      rateLimit: meta.rateLimit,
    };
  });
  closeWith = () => app.close();
  post({ k: 'ready', handlers: reported, heap: heap() });
  const backlog = early;
  early = undefined;
  replay(backlog);
} catch (error) {
  post({ k: 'boot-failed', error: toWire(error) as never });
}

async function userModule(): Promise<Type> {
  const ns = (await import(data.module)) as Record<string, unknown>;
  const name = data.exportName;
  if (name !== undefined) {
    if (typeof ns[name] === 'function') return ns[name] as Type;
    throw new Error(
      `it has no export named "${name}" (exports: ${Object.keys(ns).join(', ') || 'none'})`,
    );
  }
  if (typeof ns.default === 'function') return ns.default as Type;
  const modules = Object.entries(ns).filter(([, v]) => isNestModule(v));
  if (modules.length === 1) return modules[0][1] as Type;
  throw new Error(
    modules.length === 0
      ? 'it has no default export and no exported @Module class'
      : `it exports several @Module classes (${modules.map(([k]) => k).join(', ')}); name one with threads.exportName`,
  );
}

function isNestModule(value: unknown): boolean {
  return (
    typeof value === 'function' &&
    Reflect.getMetadataKeys(value).some((k: unknown) => MODULE_KEYS.includes(k as string))
  );
}

// The user's module plus Nest's discovery, so handlers are found as in the main thread.
function rootModule(user: Type): Type {
  class ThreadRootModule {}
  Module({ imports: [DiscoveryModule, user] })(ThreadRootModule);
  return ThreadRootModule;
}

/** Handles held-back messages in order; if one holds the rest back again, they wait. */
function replay(backlog: ToThread[]): void {
  for (let i = 0; i < backlog.length; i++) {
    if (early !== undefined) {
      for (; i < backlog.length; i++) early.push(backlog[i]);
      return;
    }
    handle(backlog[i]);
  }
}

// The first traced task loads the OpenTelemetry glue (the app's, if it registered an SDK in
// this thread); what comes meanwhile waits behind it, so tasks still start in the order sent.
function loadTracing(first: ToThread): void {
  early = [first];
  import('../opentelemetry/thread-context.js')
    .then(
      (m) => (joinTrace = m.runInTraceparent),
      () => (joinTrace = null),
    )
    .finally(() => {
      const backlog = early!;
      early = undefined;
      replay(backlog);
    });
}

function handle(message: ToThread): void {
  switch (message.k) {
    case 'run':
      if (message.tp !== undefined && joinTrace === undefined) return loadTracing(message);
      return run(message.t, message.tp);
    case 'abort':
      return running.get(message.seq)?.abort(fromWire(message.reason));
    case 'close':
      flush();
      void closeWith().finally(() => port.close());
  }
}

function run(batch: unknown[], traces: unknown[] | undefined): void {
  let traced = 0;
  for (let i = 0; i < batch.length; i += TASK_STRIDE) {
    const seq = batch[i] as number;
    const index = batch[i + 1] as number;
    const sessionId = (batch[i + 2] as string | null) ?? undefined;
    const ctx = new ThreadContext(
      batch[i + 4] as number,
      types[index],
      sessionId,
      batch[i + 3] as number,
      data.laneId,
      sessionId !== undefined && batch[i + 6] === 1,
      batch[i + 7] === 1,
      (batch[i + 8] as string | null) ?? undefined,
    );
    // Read by the main thread if this thread ends: tasks after it never started.
    Atomics.store(started, 0, seq);
    running.set(seq, ctx);
    let out: unknown;
    try {
      if (traces !== undefined && traces[traced] === seq) {
        const traceparent = traces[traced + 1] as string;
        traced += 2;
        out = joinTrace
          ? joinTrace(traceparent, handlers[index], batch[i + 5], ctx)
          : handlers[index](batch[i + 5], ctx);
      } else out = handlers[index](batch[i + 5], ctx);
    } catch (error) {
      reply(seq, false, error);
      continue;
    }
    if (out instanceof Promise) {
      out.then(
        (value) => reply(seq, true, value),
        (error: unknown) => reply(seq, false, error),
      );
    } else reply(seq, true, out);
  }
}

function reply(seq: number, ok: boolean, value: unknown): void {
  const ctx = running.get(seq);
  running.delete(seq);
  if (ok && isTransfer(value)) {
    for (const t of value.list) transfers.push(t);
    transfersOf.set(seq, value.list);
    value = value.value;
  }
  if (ok) results.push(seq, Settled.Completed, value);
  else if (ctx?.isAbortReason(value)) results.push(seq, Settled.FailedWithAbortReason, undefined);
  else results.push(seq, Settled.Failed, toWire(value));
  // Long synchronous handlers send what is done so far: the main thread refills meanwhile.
  if (performance.now() - lastFlush > FLUSH_AFTER_MS) flush();
  else if (!flushQueued) {
    flushQueued = true;
    setImmediate(flush);
  }
}

function flush(): void {
  flushQueued = false;
  lastFlush = performance.now();
  if (results.length === 0) return;
  const batch = results;
  const list = transfers;
  const lists = transfersOf;
  results = [];
  transfers = [];
  transfersOf = new Map();
  const at = lastFlush;
  const h = at - lastHeap > HEAP_EVERY_MS ? ((lastHeap = at), heap()) : undefined;
  try {
    post({ k: 'done', r: batch, heap: h }, list);
  } catch {
    // A result cannot be cloned (a DataCloneError, or what its getter threw): send them one
    // by one, and that one as its own task's failure; the thread and its other tasks go on.
    for (let i = 0; i < batch.length; i += RESULT_STRIDE) {
      const one = batch.slice(i, i + RESULT_STRIDE);
      try {
        post({ k: 'done', r: one }, lists.get(one[0] as number));
      } catch (e) {
        const why =
          one[1] === Settled.Completed
            ? cloneFailure(e)
            : new Error(
                `the handler failed with ${describeValue(one[2])}, which cannot be sent between threads`,
              );
        post({ k: 'done', r: [one[0], 0, toWire(why)] });
      }
    }
  }
}

function cloneFailure(cause: unknown): Error {
  return Object.assign(new Error(`result not cloneable: ${describeValue(cause)}`), {
    code: 'RESULT_NOT_CLONEABLE',
  });
}

function heap(): [number, number] {
  const s = getHeapStatistics();
  return [s.used_heap_size, s.heap_size_limit];
}

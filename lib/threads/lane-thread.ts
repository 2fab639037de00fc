import { type ResourceLimits, type Transferable, Worker } from 'node:worker_threads';
import { DurableTask } from '../core/durable-task.js';
import type { Task } from '../core/task.js';
import {
  AbortReasonNotCloneableError,
  PayloadNotCloneableError,
  WorkerThreadExitedError,
} from './thread.errors.js';
import {
  type FromThread,
  RESULT_STRIDE,
  Settled,
  TASK_STRIDE,
  type ThreadData,
  type ToThread,
  describeValue,
  fromWire,
  toWire,
} from './thread-protocol.js';
import type { SessionMemory } from './session-memory.js';
import { isTransfer } from './transfer.js';

/** A task sent to a thread and not yet settled. */
export class InFlight {
  seq = 0;
  thread: LaneThread | undefined = undefined;
  /** Timer that ends the thread if the task outlives its timeout plus the grace period. */
  preempt: NodeJS.Timeout | undefined = undefined;
  resolve!: (value: unknown) => void;
  reject!: (reason: unknown) => void;
  /** The attempt's trace context, sent only when the pool's instrument gives one. */
  traceparent: string | undefined = undefined;
  constructor(
    readonly task: Task,
    readonly typeIndex: number,
  ) {}
}

/** How a thread tells its owner that it ended or reported. */
export interface LaneThreadOwner {
  ended(thread: LaneThread, code: number, error: unknown): void;
  /** Which thread last ran each session: tells a task whether its session arrived. */
  readonly memory: SessionMemory;
}

export interface ThreadSpawn {
  entry: URL;
  data: Omit<ThreadData, 'laneId' | 'started'>;
  resourceLimits: ResourceLimits | undefined;
}

/**
 * One lane's worker thread, seen from the main thread: tasks go out and results come back
 * in batches, one postMessage per event-loop turn each way.
 *
 * Invariant: every task in `inFlight` was posted (or is in `batch`) in `seq` order, and the
 * thread starts tasks in that order, so after the thread ends, a task whose seq is above
 * the `started` mark never ran and may be sent again.
 */
export class LaneThread {
  readonly worker: Worker;
  readonly inFlight = new Map<number, InFlight>();
  readonly ready: Promise<Extract<FromThread, { k: 'ready' }>>;
  private readonly started: Int32Array;
  private seq = 0;
  private batch: unknown[] = [];
  private items: InFlight[] = [];
  private transfers: Transferable[] = [];
  /** seq, traceparent pairs of the traced tasks in `batch` (see ToThread 'run'). */
  private traces: unknown[] | undefined = undefined;
  private scheduled = false;
  heapUsed = 0;
  heapLimit = 0;
  /** Set when the main thread ends it on purpose: the task that overran, or 'close'. */
  endedBy: string | undefined = undefined;
  exited = false;
  /** It booted the module and reported its handlers. */
  booted = false;
  readonly exit: Promise<void>;

  constructor(
    readonly laneId: number,
    spawn: ThreadSpawn,
    private readonly owner: LaneThreadOwner,
  ) {
    const started = new SharedArrayBuffer(4);
    this.started = new Int32Array(started);
    const data: ThreadData = { ...spawn.data, laneId, started };
    this.worker = new Worker(spawn.entry, {
      workerData: data,
      resourceLimits: spawn.resourceLimits,
    });
    let ready!: (m: Extract<FromThread, { k: 'ready' }>) => void;
    let failed!: (e: unknown) => void;
    this.ready = new Promise((res, rej) => ((ready = res), (failed = rej)));
    this.ready.catch(() => undefined); // a replacement's boot failure is reported through ended()
    let error: unknown;
    this.worker.on('message', (m: FromThread) => {
      if (m.k === 'done') return this.settle(m.r, m.heap);
      if (m.k === 'ready') {
        [this.heapUsed, this.heapLimit] = m.heap;
        this.booted = true;
        return ready(m);
      }
      error = fromWire(m.error);
      failed(error);
      void this.worker.terminate();
    });
    this.worker.on('error', (e) => {
      error = e;
      failed(e);
    });
    this.exit = new Promise((resolve) =>
      this.worker.on('exit', (code) => {
        this.exited = true;
        failed(error ?? new Error(`the thread exited with code ${code} before it was ready`));
        this.owner.ended(this, code, error);
        resolve();
      }),
    );
  }

  get threadId(): number {
    return this.worker.threadId;
  }

  /** Sends `rec`'s task with the next batch. */
  send(rec: InFlight): void {
    if (this.exited) {
      // It could not boot, and its replacement waits out a backoff: fail fast meanwhile.
      const why = 'its thread could not start; another one starts after a short delay';
      return rec.reject(new WorkerThreadExitedError(rec.task.taskId, this.laneId, why));
    }
    const seq = (this.seq = (this.seq + 1) | 0);
    rec.seq = seq;
    rec.thread = this;
    this.inFlight.set(seq, rec);
    const t = rec.task;
    const sid = t.sessionId;
    let payload = t.payload;
    let attempt = t.attempt;
    let arrived: number;
    let redelivered = 0;
    let jobId: string | null = null;
    if (payload instanceof DurableTask) {
      // A cluster task: its session's tasks run on any replica, so no thread here can know it
      // holds the session's current state. It arrives, and the memory forgets the session so
      // that a task submitted here after it arrives too.
      if (sid !== undefined) this.owner.memory.forget(sid);
      arrived = 1;
      attempt = payload.attempt;
      redelivered = payload.redelivered ? 1 : 0;
      jobId = payload.jobId;
      payload = payload.payload;
    } else {
      if (isTransfer(payload)) {
        for (const item of payload.list) this.transfers.push(item);
        payload = payload.value;
      }
      arrived = sid === undefined || this.owner.memory.arrive(sid, this.threadId) ? 1 : 0;
    }
    this.batch.push(
      seq,
      rec.typeIndex,
      sid ?? null,
      attempt,
      t.taskId,
      payload,
      arrived,
      redelivered,
      jobId,
    );
    this.items.push(rec);
    if (rec.traceparent !== undefined) (this.traces ??= []).push(seq, rec.traceparent);
    if (!this.scheduled) {
      this.scheduled = true;
      // After every run loop of this turn has handed over its task: one message for all.
      setImmediate(() => this.flush());
    }
  }

  /** Whether the thread had started `rec` before it ended (seq order, wrap-safe). */
  hadStarted(rec: InFlight): boolean {
    return ((rec.seq - Atomics.load(this.started, 0)) | 0) <= 0;
  }

  abort(rec: InFlight, reason: unknown): void {
    this.flush();
    try {
      this.post({ k: 'abort', seq: rec.seq, reason: toWire(reason) });
    } catch (error) {
      // The caller's reason cannot be cloned (a function, a Symbol, a throwing getter): the
      // thread's ctx.signal must abort all the same, with a stand-in that says why.
      const why = new AbortReasonNotCloneableError(rec.task.taskId, describeValue(reason), error);
      this.post({ k: 'abort', seq: rec.seq, reason: toWire(why) });
    }
  }

  /** Asks the thread to close its Nest context and end; ends it anyway after `timeoutMs`. */
  close(timeoutMs: number): Promise<void> {
    if (!this.exited && this.endedBy === undefined) {
      this.endedBy = 'close';
      this.flush();
      this.post({ k: 'close' });
      const timer = setTimeout(() => void this.worker.terminate(), timeoutMs);
      void this.exit.then(() => clearTimeout(timer));
    }
    return this.exit;
  }

  /** Ends the thread now (a task overran its timeout); `ended()` follows. */
  terminate(why: string): void {
    if (this.exited || this.endedBy !== undefined) return;
    this.endedBy = why;
    void this.worker.terminate();
  }

  flush(): void {
    this.scheduled = false;
    if (this.items.length === 0) return;
    const batch = this.batch;
    const items = this.items;
    const list = this.transfers;
    const tp = this.traces;
    this.batch = [];
    this.items = [];
    this.transfers = [];
    this.traces = undefined;
    try {
      this.post(tp === undefined ? { k: 'run', t: batch } : { k: 'run', t: batch, tp }, list);
    } catch {
      // A DataCloneError, or whatever a payload's getter threw while being cloned.
      this.sendEach(batch, items);
    }
  }

  // A payload of the batch cannot be cloned: send each task alone, fail only those.
  private sendEach(batch: unknown[], items: InFlight[]): void {
    for (let i = 0; i < items.length; i++) {
      const rec = items[i];
      const one = batch.slice(i * TASK_STRIDE, (i + 1) * TASK_STRIDE);
      const p = rec.task.payload;
      try {
        const tp = rec.traceparent === undefined ? undefined : [rec.seq, rec.traceparent];
        this.post(
          tp === undefined ? { k: 'run', t: one } : { k: 'run', t: one, tp },
          isTransfer(p) ? p.list : undefined,
        );
      } catch (error) {
        this.inFlight.delete(rec.seq);
        this.undelivered(rec);
        rec.reject(new PayloadNotCloneableError(rec.task.taskId, 'payload', error));
      }
    }
  }

  // Never ran: the thread the memory now names holds no newer state for the session.
  private undelivered(rec: InFlight): void {
    if (rec.task.sessionId !== undefined) this.owner.memory.forget(rec.task.sessionId);
  }

  private post(message: ToThread, list?: readonly Transferable[]): void {
    if (!this.exited) this.worker.postMessage(message, list as Transferable[] | undefined);
  }

  private settle(r: unknown[], heap: [number, number] | undefined): void {
    if (heap !== undefined) [this.heapUsed, this.heapLimit] = heap;
    for (let i = 0; i < r.length; i += RESULT_STRIDE) {
      const rec = this.inFlight.get(r[i] as number);
      if (rec === undefined) continue;
      this.inFlight.delete(rec.seq);
      if (rec.preempt !== undefined) clearTimeout(rec.preempt);
      const settled = r[i + 1] as Settled;
      if (settled === Settled.Completed) rec.resolve(r[i + 2]);
      else if (settled === Settled.FailedWithAbortReason) rec.reject(rec.task.abortReason);
      else rec.reject(resultError(rec, fromWire(r[i + 2])));
    }
  }
}

function resultError(rec: InFlight, error: unknown): unknown {
  return (error as { code?: unknown })?.code === 'RESULT_NOT_CLONEABLE'
    ? new PayloadNotCloneableError(rec.task.taskId, 'result', (error as Error).message)
    : error;
}

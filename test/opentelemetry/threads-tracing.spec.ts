import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Dispatcher } from '../../lib/core/index.js';
import { ThreadLanes } from '../../lib/index.js';
import { TASK_SPAN_NAME, tracePoolTasks } from '../../lib/opentelemetry/index.js';
import { COUNTER_MODULE, TRACED_MODULE } from '../support/threads.js';

// Thread mode: the task span is made in the main thread; its context crosses to the lane's
// thread as a W3C traceparent, where the fixture's own SDK makes spans under it.
const exporter = new InMemorySpanExporter();
const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
);
const tracer = trace.getTracer('test');

afterAll(() => {
  contextManager.disable();
  trace.disable();
  context.disable();
});

interface Reported {
  payload: string;
  taskId: number;
  before: { traceId: string; parentSpanId: string | undefined };
  after: { traceId: string; parentSpanId: string | undefined };
}

describe('thread mode tracing', () => {
  it('spans made in the thread handler join the submitter trace, under the task span, for concurrent requests on 2 lanes', async () => {
    const pool = new Dispatcher({ lanes: 2, laneConcurrency: 4, instrument: tracePoolTasks() });
    const threads = new ThreadLanes(pool, { module: TRACED_MODULE });
    await threads.start();
    pool.start();
    const requests = new Map<string, { traceId: string; spanId: string }>();
    const results = await Promise.all(
      ['A', 'B', 'C'].map((req) =>
        tracer.startActiveSpan(`request ${req}`, async (span) => {
          requests.set(req, span.spanContext());
          const mine = await Promise.all(
            [0, 1, 2].map((i) =>
              pool.submit<Reported>('traced', req, {
                sessionId: i === 0 ? 'shared' : `${req}${i}`,
              }),
            ),
          );
          span.end();
          return mine;
        }),
      ),
    );
    await pool.drain();
    await threads.close();

    const taskSpans = exporter.getFinishedSpans().filter((s) => s.name === TASK_SPAN_NAME);
    expect(taskSpans).toHaveLength(9);
    for (const r of results.flat()) {
      const request = requests.get(r.payload)!;
      const task = taskSpans.find((s) => s.attributes['worker_pool.task_id'] === r.taskId)!;
      // main thread: task span under its request span
      expect(task.parentSpanContext?.spanId).toBe(request.spanId);
      expect(task.spanContext().traceId).toBe(request.traceId);
      // thread: both spans (before and after an await) under the task span, same trace
      for (const made of [r.before, r.after]) {
        expect(made.traceId).toBe(request.traceId);
        expect(made.parentSpanId).toBe(task.spanContext().spanId);
      }
    }
  });

  it('a batch sent task by task (one payload cannot be cloned) keeps each task its own traceparent', async () => {
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 4, instrument: tracePoolTasks() });
    const threads = new ThreadLanes(pool, { module: TRACED_MODULE });
    await threads.start();
    pool.start();
    exporter.reset();
    const settled = await Promise.all(
      ['A', 'B', 'C'].map((req) =>
        tracer.startActiveSpan(`request ${req}`, async (span) => {
          const payload = req === 'B' ? { f: () => 1 } : req;
          const r = await Promise.allSettled([pool.submit<Reported>('traced', payload)]);
          span.end();
          return [span.spanContext().traceId, r[0]] as const;
        }),
      ),
    );
    await pool.drain();
    await threads.close();
    expect(settled.map(([, r]) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const tasks = exporter.getFinishedSpans().filter((s) => s.name === TASK_SPAN_NAME);
    for (const [traceId, r] of settled) {
      if (r.status !== 'fulfilled') continue;
      const task = tasks.find((s) => s.attributes['worker_pool.task_id'] === r.value.taskId)!;
      expect(r.value.before.traceId).toBe(traceId);
      expect(r.value.before.parentSpanId).toBe(task.spanContext().spanId);
    }
  });

  it('without an instrument no traceparent is sent: the thread handler spans start traces of their own', async () => {
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 2 });
    const threads = new ThreadLanes(pool, { module: TRACED_MODULE });
    await threads.start();
    pool.start();
    const r = await tracer.startActiveSpan('request', async (span) => {
      const out = await pool.submit<Reported>('traced', 'X');
      span.end();
      return out;
    });
    await pool.drain();
    await threads.close();
    expect(r.before.parentSpanId).toBeUndefined();
    expect(r.before.traceId).not.toBe(exporter.getFinishedSpans().at(-1)!.spanContext().traceId);
  });

  it('a thread whose module registers no SDK runs traced tasks as usual', async () => {
    const pool = new Dispatcher({ lanes: 1, laneConcurrency: 2, instrument: tracePoolTasks() });
    const threads = new ThreadLanes(pool, { module: COUNTER_MODULE });
    await threads.start();
    pool.start();
    const out = await tracer.startActiveSpan('request', async (span) => {
      const r = await Promise.all(
        [1, 2, 3].map((n) => pool.submit<any>('echo', n, { sessionId: 's' })),
      );
      span.end();
      return r;
    });
    await pool.drain();
    await threads.close();
    expect(out.map((r) => r.payload)).toEqual([1, 2, 3]);
  });
});

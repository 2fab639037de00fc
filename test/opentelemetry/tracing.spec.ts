import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { type Span, SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Dispatcher } from '../../lib/core/index.js';
import { TaskHandler, WorkerPoolModule } from '../../lib/index.js';
import { TASK_SPAN_NAME, tracePoolTasks } from '../../lib/opentelemetry/index.js';
import { deferred } from '../support/deferred.js';

// The SDK as an app registers it: spans go to an in-memory exporter, the active span is kept
// in AsyncLocalStorage. Every test checks parents by span id: a task span whose parent were
// another request's span (or none) would fail.
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
trace.setGlobalTracerProvider(provider);
const tracer = trace.getTracer('test');

afterEach(() => {
  exporter.reset();
  jest.useRealTimers();
});
afterAll(() => {
  contextManager.disable();
  trace.disable();
  context.disable();
});

const taskSpans = () => exporter.getFinishedSpans().filter((s) => s.name === TASK_SPAN_NAME);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const attr = (s: ReadableSpan, key: string) => s.attributes[key];

/** Runs `fn` inside a new active span, ended when `fn`'s promise settles. */
function request<T>(name: string, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, (span) => fn(span).finally(() => span.end()));
}

describe('tracePoolTasks', () => {
  it('each task span is a child of its own request span, never the other: two concurrent requests, shared and own sessions, lanes of concurrency 2', async () => {
    const pool = new Dispatcher({
      lanes: 2,
      laneConcurrency: 2,
      instrument: tracePoolTasks({ poolName: 'orders' }),
    });
    // Both requests submit before any handler finishes: tasks of one request queue behind
    // the other's in the shared session, and the run loops are woken by either.
    const gate = deferred();
    pool.registerHandler('work', async (req: string, ctx) => {
      await gate.promise;
      const inner = tracer.startSpan('inside', { attributes: { task: ctx.taskId, req } });
      inner.end();
      return req;
    });
    pool.start();
    const requestSpans = new Map<string, string>();
    const runs = ['A', 'B'].map((req) =>
      request(`request ${req}`, (span) => {
        requestSpans.set(req, span.spanContext().spanId);
        const tasks: Promise<unknown>[] = [];
        for (let i = 0; i < 3; i++) {
          tasks.push(pool.submit('work', req, { sessionId: 'shared' }));
          tasks.push(pool.submit('work', req, { sessionId: `own-${req}-${i}` }));
          tasks.push(pool.submit('work', req));
        }
        return Promise.all(tasks);
      }),
    );
    await new Promise((r) => setImmediate(r));
    gate.resolve();
    await Promise.all(runs);
    await pool.drain();

    const spans = taskSpans();
    expect(spans).toHaveLength(18);
    const inside = exporter.getFinishedSpans().filter((s) => s.name === 'inside');
    expect(inside).toHaveLength(18);
    const lanes = new Set<unknown>();
    for (const span of spans) {
      const mine = inside.find((s) => attr(s, 'task') === attr(span, 'worker_pool.task_id'))!;
      const req = attr(mine, 'req') as string;
      expect(parentOf(span)).toBe(requestSpans.get(req));
      expect(span.spanContext().traceId).not.toBe(
        spans.find((s) => parentOf(s) !== parentOf(span))!.spanContext().traceId,
      );
      // The handler's own span hangs under the task span.
      expect(parentOf(mine)).toBe(span.spanContext().spanId);
      expect(span.kind).toBe(SpanKind.CONSUMER);
      expect(span.attributes).toMatchObject({
        'messaging.system': 'nest-worker-pool',
        'messaging.operation.type': 'process',
        'messaging.destination.name': 'work',
        'worker_pool.name': 'orders',
        'worker_pool.attempt': 1,
        'worker_pool.outcome': 'completed',
      });
      expect(attr(span, 'worker_pool.queue_wait_ms')).toEqual(expect.any(Number));
      lanes.add(attr(span, 'worker_pool.lane_id'));
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
    }
    expect(lanes.size).toBe(2);
    const shared = spans.filter((s) => attr(s, 'worker_pool.session_id') === 'shared');
    expect(shared).toHaveLength(6);
    expect(spans.filter((s) => attr(s, 'worker_pool.session_id') === undefined)).toHaveLength(6);
  });

  it('a retried task has one span per attempt, both children of the request span, the first with its exception', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1, instrument: tracePoolTasks() });
    let calls = 0;
    pool.registerHandler(
      'flaky',
      () => {
        if (++calls === 1) throw new Error('first attempt fails');
        return 'ok';
      },
      { retry: { attempts: 2, delayMs: 100, jitter: false } },
    );
    pool.start();
    let requestSpan = '';
    const done = request('request', (span) => {
      requestSpan = span.spanContext().spanId;
      return pool.submit('flaky', null, { sessionId: 's' });
    });
    await jest.advanceTimersByTimeAsync(100);
    expect(await done).toBe('ok');
    const [first, second] = taskSpans();
    expect(taskSpans()).toHaveLength(2);
    expect([parentOf(first), parentOf(second)]).toEqual([requestSpan, requestSpan]);
    expect(first.attributes).toMatchObject({
      'worker_pool.attempt': 1,
      'worker_pool.outcome': 'failed',
      'worker_pool.retrying': true,
      'error.type': 'Error',
    });
    expect(first.status).toEqual({ code: SpanStatusCode.ERROR, message: 'first attempt fails' });
    expect(first.events.map((e) => [e.name, e.attributes?.['exception.message']])).toEqual([
      ['exception', 'first attempt fails'],
    ]);
    expect(second.attributes).toMatchObject({
      'worker_pool.attempt': 2,
      'worker_pool.outcome': 'completed',
    });
    // Queue wait is the first attempt's: a retry waits out a backoff instead.
    expect(attr(second, 'worker_pool.queue_wait_ms')).toBeUndefined();
    expect(second.events).toEqual([]);
    await pool.drain();
  });

  it('a timed-out task span ends at the timeout with outcome timed-out and the TaskTimeoutError', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 1, instrument: tracePoolTasks() });
    pool.registerHandler('slow', () => new Promise(() => undefined), { timeoutMs: 50 });
    pool.start();
    let requestSpan = '';
    const done = request('request', (span) => {
      requestSpan = span.spanContext().spanId;
      return pool.submit('slow', null).catch((e: unknown) => e);
    });
    await jest.advanceTimersByTimeAsync(50);
    expect(await done).toMatchObject({ name: 'TaskTimeoutError' });
    const [span] = taskSpans();
    expect(parentOf(span)).toBe(requestSpan);
    expect(span.attributes).toMatchObject({
      'worker_pool.outcome': 'timed-out',
      'error.type': 'TaskTimeoutError',
    });
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.events[0].name).toBe('exception');
  });

  it('batch items: one span per item, each a child of its own request, and item.run makes the handler span its child', async () => {
    const pool = new Dispatcher({ lanes: 1, instrument: tracePoolTasks() });
    const gate = deferred();
    pool.registerHandler(
      'batch',
      async (items) => {
        await gate.promise;
        for (const item of items) item.run(() => tracer.startSpan('item-work').end());
        return items.map((i) => i.payload);
      },
      { batch: { maxSize: 2, maxWaitMs: 0 } },
    );
    pool.start();
    const parents: string[] = [];
    const runs = ['A', 'B'].map((req) =>
      request(req, (span) => {
        parents.push(span.spanContext().spanId);
        return pool.submit('batch', req, { sessionId: req });
      }),
    );
    await new Promise((r) => setImmediate(r));
    gate.resolve();
    expect(await Promise.all(runs)).toEqual(['A', 'B']);
    const spans = taskSpans();
    expect(spans.map(parentOf)).toEqual(parents);
    const work = exporter.getFinishedSpans().filter((s) => s.name === 'item-work');
    expect(work.map(parentOf)).toEqual(spans.map((s) => s.spanContext().spanId));
  });

  it('WorkerPoolModule.forRoot({ instrument }) traces the @TaskHandler tasks of a Nest app', async () => {
    @Injectable()
    class Handlers {
      @TaskHandler('greet')
      greet(name: string) {
        tracer.startSpan('greeting').end();
        return `hello ${name}`;
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [WorkerPoolModule.forRoot({ lanes: 2, instrument: tracePoolTasks() })],
      providers: [Handlers],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const pool = app.get(Dispatcher);
    let requestSpan = '';
    const result = await request('GET /greet', (span) => {
      requestSpan = span.spanContext().spanId;
      return pool.submit('greet', 'ada', { sessionId: 'u1' });
    });
    await app.close();
    expect(result).toBe('hello ada');
    const [task] = taskSpans();
    expect(parentOf(task)).toBe(requestSpan);
    expect(task.attributes).toMatchObject({
      'worker_pool.name': 'default',
      'worker_pool.session_id': 'u1',
    });
    const greeting = exporter.getFinishedSpans().find((s) => s.name === 'greeting')!;
    expect(parentOf(greeting)).toBe(task.spanContext().spanId);
  });
});

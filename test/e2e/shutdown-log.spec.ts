import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Injectable, type LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Dispatcher, TaskHandler, WorkerPoolModule } from '../../lib/index.js';
import { drainSummary } from '../../lib/worker-pool.messages.js';
import { failure } from '../support/errors.js';

/** What a shutdown with a backlog writes to the app's logger: one summary, details at debug. */

type Line = { level: string; message: string; context: unknown };

/** A LoggerService that keeps every line with its level and context. */
class CapturedLogger implements LoggerService {
  readonly lines: Line[] = [];
  private keep(level: string, message: unknown, rest: unknown[]) {
    this.lines.push({ level, message: String(message), context: rest.at(-1) });
  }
  log = (message: unknown, ...rest: unknown[]) => this.keep('log', message, rest);
  error = (message: unknown, ...rest: unknown[]) => this.keep('error', message, rest);
  warn = (message: unknown, ...rest: unknown[]) => this.keep('warn', message, rest);
  debug = (message: unknown, ...rest: unknown[]) => this.keep('debug', message, rest);
  verbose = (message: unknown, ...rest: unknown[]) => this.keep('verbose', message, rest);
  fatal = (message: unknown, ...rest: unknown[]) => this.keep('fatal', message, rest);
}

@Injectable()
class Work {
  @TaskHandler('hold')
  hold(): Promise<void> {
    return new Promise(() => undefined); // ignores its signal: abandoned at shutdown
  }
  @TaskHandler('chat')
  chat(): void {}
  @TaskHandler('audit')
  audit(): void {}
}

afterEach(() => jest.useRealTimers());

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('shutdown with a backlog (Nest logger)', () => {
  it('logs one summary line (counts per outcome and type, a few examples) and each task once, at debug', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    const logger = new CapturedLogger();
    const moduleRef = await Test.createTestingModule({
      imports: [
        // One lane running two sessions at once: both 'hold' tasks run, everything else waits.
        WorkerPoolModule.forRoot({
          lanes: 1,
          laneConcurrency: 2,
          drainTimeoutMs: 1_000,
          drainGraceMs: 100,
        }),
      ],
      providers: [Work],
    }).compile();
    const app = moduleRef.createNestApplication({ logger });
    await app.init();
    const pool = app.get(Dispatcher);
    const awaitedHold = failure(() => pool.submit('hold', null, { sessionId: 'a' }));
    await pool.enqueue('hold', null, { sessionId: 'b' }); // nobody awaits it
    const awaitedChat = failure(() => pool.submit('chat', null, { sessionId: 'a' }));
    for (let i = 0; i < 496; i++) await pool.enqueue('chat', i, { sessionId: `s${i % 50}` });
    for (let i = 0; i < 3; i++) await pool.enqueue('audit', i);
    expect(pool.stats()).toMatchObject({ running: 2, queued: 500 });

    const closing = app.close();
    await jest.advanceTimersByTimeAsync(1_000 + 100);
    await closing;
    expect(await awaitedHold).toMatchObject({ name: 'TaskAbandonedError', taskId: 1 });
    expect(await awaitedChat).toMatchObject({ name: 'TaskCancelledError', reason: 'shutdown' });

    const mine = logger.lines.filter((l) => l.context === 'WorkerPool:default');
    const above = mine.filter((l) => l.level !== 'debug');
    expect(above).toEqual([
      {
        level: 'warn',
        context: 'WorkerPool:default',
        message: expect.stringMatching(
          new RegExp(
            '^' +
              escape(
                'Pool "default" drained in 1100 ms: 0 completed, 0 failed, 500 cancelled (chat 497, audit 3), 2 abandoned (hold 2). ' +
                  'Cancelled, still queued at the deadline ("drainTimeoutMs": 1000 ms): tasks ',
              ) +
              // Three examples, in the order the drain met them.
              '\\d+ \\(chat, session \\w+\\), \\d+ \\(chat, session \\w+\\), \\d+ \\(chat, session \\w+\\)' +
              escape(
                ' and 497 more. Abandoned, still running "drainGraceMs" (100 ms) after it: tasks 1 (hold, session a), 2 (hold, session b). ' +
                  'Raise those options or make handlers follow ctx.signal; one line per task at debug level.',
              ) +
              '$',
          ),
        ),
      },
    ]);
    // Details: one debug line per cancelled or abandoned task, no stack traces.
    const debug = mine.filter((l) => l.level === 'debug').map((l) => l.message);
    expect(debug).toHaveLength(502);
    const ids = debug.map((m) => Number(/^(?:Cancelled|Abandoned) task (\d+) /.exec(m)?.[1]));
    expect(new Set(ids)).toEqual(new Set(Array.from({ length: 502 }, (_, i) => i + 1)));
    expect(debug).toContain(
      'Abandoned task 2 (hold, session b): still running 100 ms after the drain deadline.',
    );
    expect(debug).toContain('Cancelled task 502 (audit): still queued at the drain deadline.');
    expect(debug.filter((m) => m.includes('\n'))).toEqual([]);
  });

  it('logs a drain with nothing cancelled or abandoned as one line at log level', async () => {
    const logger = new CapturedLogger();
    const moduleRef = await Test.createTestingModule({
      imports: [WorkerPoolModule.forRoot({ lanes: 1 })],
      providers: [Work],
    }).compile();
    const app = moduleRef.createNestApplication({ logger });
    await app.init();
    await app.get(Dispatcher).submit('chat', null);
    await app.close();
    const mine = logger.lines.filter((l) => l.context === 'WorkerPool:default');
    expect(mine).toEqual([
      {
        level: 'log',
        context: 'WorkerPool:default',
        message: expect.stringMatching(
          /^Pool "default" drained in \d+ ms: 0 completed, 0 failed, 0 cancelled, 0 abandoned\.$/,
        ),
      },
    ]);
  });

  it('tells tasks its callers withdrew while draining from those still queued at the deadline', () => {
    const task = (taskId: number, reason: 'shutdown' | 'aborted') => ({
      taskId,
      type: 'chat',
      sessionId: undefined,
      reason,
    });
    expect(
      drainSummary(
        'p',
        {
          completed: 1,
          failed: 0,
          cancelledTasks: [task(2, 'shutdown'), task(3, 'aborted')],
          abandonedTasks: [],
          durationMs: 5,
        },
        { drainTimeoutMs: 10, drainGraceMs: 20 },
      ),
    ).toBe(
      'Pool "p" drained in 5 ms: 1 completed, 0 failed, 2 cancelled (chat 2), 0 abandoned. ' +
        'Cancelled, still queued at the deadline ("drainTimeoutMs": 10 ms): task 2 (chat). ' +
        "Cancelled by their callers' AbortSignal: task 3 (chat). " +
        'Raise those options or make handlers follow ctx.signal; one line per task at debug level.',
    );
  });
});

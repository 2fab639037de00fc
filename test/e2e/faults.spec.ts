import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Injectable, Logger, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  Dispatcher,
  DuplicateHandlerError,
  InjectDispatcher,
  PoolClosedError,
  TaskCancelledError,
  type TaskContext,
  TaskHandler,
  WorkerPoolModule,
} from '../../lib/index.js';
import { deferred } from '../support/deferred.js';
import { failure } from '../support/errors.js';

/**
 * Fault injection through the Nest layer. Deterministic: explicit deferreds and abort
 * events, no racing sleeps. Tests whose comments say DEFECT reproduce defects found here, now fixed.
 */

async function boot(providers: unknown[], imports: unknown[]) {
  const moduleRef = await Test.createTestingModule({
    imports: imports as never[],
    providers: providers as never[],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

/** Lets the event loop turn `n` times (timers due now, I/O, immediates). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

afterEach(() => jest.restoreAllMocks());

describe('a handler registered twice (Nest)', () => {
  it('fails startup when one provider class is instantiated by two modules, naming the origin twice', async () => {
    @Injectable()
    class Greeter {
      @TaskHandler('greet')
      greet(): string {
        return 'hi';
      }
    }
    @Module({ providers: [Greeter] })
    class FirstModule {}
    @Module({ providers: [Greeter] })
    class SecondModule {}
    const error = await failure(() =>
      boot([], [WorkerPoolModule.forRoot(), FirstModule, SecondModule]),
    );
    expect(error).toBeInstanceOf(DuplicateHandlerError);
    expect((error as Error).message).toBe(
      'Task type "greet" has two handlers: Greeter.greet and Greeter.greet. A type has exactly one handler per pool; rename one of the types or remove one handler.',
    );
  });

  it('names the @TaskHandler and the manual registration that collide', async () => {
    @Injectable()
    class Greeter {
      @TaskHandler('greet')
      greet(): string {
        return 'decorated';
      }
    }
    @Injectable()
    class Manual implements OnApplicationBootstrap {
      error: unknown;
      constructor(private readonly pool: Dispatcher) {}
      onApplicationBootstrap(): void {
        try {
          this.pool.registerHandler('greet', () => 'manual', 'Manual.greet');
        } catch (error) {
          this.error = error;
        }
      }
    }
    const app = await boot([Greeter, Manual], [WorkerPoolModule.forRoot()]);
    expect(app.get(Manual).error).toBeInstanceOf(DuplicateHandlerError);
    expect((app.get(Manual).error as Error).message).toMatch(/Greeter\.greet and Manual\.greet/);
    await expect(app.get(Dispatcher).submit('greet', null)).resolves.toBe('decorated');
    await app.close();
  });

  it('allows one type in two different pools', async () => {
    @Injectable()
    class Both {
      @TaskHandler('render')
      main(): string {
        return 'main';
      }
      @TaskHandler('render', { pool: 'reports' })
      reports(): string {
        return 'reports';
      }
    }
    @Injectable()
    class Pools {
      constructor(
        readonly main: Dispatcher,
        @InjectDispatcher('reports') readonly reports: Dispatcher,
      ) {}
    }
    const app = await boot(
      [Both, Pools],
      [WorkerPoolModule.forRoot(), WorkerPoolModule.forRoot({ name: 'reports' })],
    );
    const { main, reports } = app.get(Pools);
    await expect(main.submit('render', null)).resolves.toBe('main');
    await expect(reports.submit('render', null)).resolves.toBe('reports');
    await app.close();
  });

  // FIXED (found by this suite): @TaskHandler is SetMetadata on one key, so a second @TaskHandler on the same
  // method overwrites the first: only the outermost type is registered and the other one is
  // silently lost (submits of it fail later with UnknownTaskTypeError). Fix: store an array
  // of metadata entries (append in the decorator, e.g. Reflect.getMetadata + defineMetadata)
  // and register each in the explorer; or throw InvalidOptionError/DuplicateHandlerError at
  // decoration time when the method already carries @TaskHandler metadata.
  it('registers both types of a method with two @TaskHandler decorators (or refuses it)', async () => {
    let decorationError: unknown;
    let Stacked: unknown;
    try {
      @Injectable()
      class StackedHandlers {
        @TaskHandler('a')
        @TaskHandler('b')
        run(_: unknown, ctx: TaskContext): string {
          return ctx.type;
        }
      }
      Stacked = StackedHandlers;
    } catch (error) {
      decorationError = error;
    }
    if (decorationError !== undefined) {
      expect((decorationError as Error).name).toMatch(/InvalidOptionError|DuplicateHandlerError/);
      return;
    }
    const app = await boot([Stacked], [WorkerPoolModule.forRoot()]);
    try {
      expect(app.get(Dispatcher).handlerTypes().sort()).toEqual(['a', 'b']);
    } finally {
      await app.close();
    }
  });
});

describe('a handler that never settles (Nest shutdown)', () => {
  it('app.close() awaits it past drainTimeoutMs; its ctx.signal aborts with reason "deadline"; later submits are refused', async () => {
    const release = deferred();
    const started = deferred<AbortSignal>();
    @Injectable()
    class Hang {
      @TaskHandler('hang')
      run(_: unknown, ctx: TaskContext): Promise<void> {
        started.resolve(ctx.signal);
        return release.promise; // ignores its signal until released
      }
    }
    const app = await boot([Hang], [WorkerPoolModule.forRoot({ lanes: 1, drainTimeoutMs: 0 })]);
    const pool = app.get(Dispatcher);
    const hung = pool.submit('hang', null, { sessionId: 'h' });
    const queued = pool.submit('hang', null, { sessionId: 'h' }).catch((e: unknown) => e);
    const signal = await started.promise;

    let closed = false;
    const closing = app.close().then(() => (closed = true));
    await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    expect(signal.reason).toBeInstanceOf(TaskCancelledError);
    expect(signal.reason).toMatchObject({ reason: 'deadline', taskId: 1 });
    expect(await queued).toMatchObject({ name: 'TaskCancelledError', reason: 'shutdown' });
    await expect(pool.submit('hang', null)).rejects.toThrow(PoolClosedError);

    await turns(20);
    expect(closed).toBe(false); // still awaiting the hung handler
    expect(pool.stats()).toMatchObject({ state: 'draining', running: 1 });
    release.resolve();
    await Promise.all([hung, closing]);
    expect(pool.stats().state).toBe('stopped');
    await expect(pool.enqueue('hang', null)).rejects.toThrow(/is stopped and accepts no new tasks/);
  });
});

describe('failures nobody awaits (Nest logger)', () => {
  it('logs a non-Error failure of an enqueued task with its value', async () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    @Injectable()
    class Odd {
      @TaskHandler('odd')
      run(value: unknown): Promise<never> {
        return Promise.reject(value);
      }
      @TaskHandler('ok')
      ok(): string {
        return 'ok';
      }
    }
    const app = await boot([Odd], [WorkerPoolModule.forRoot()]);
    const pool = app.get(Dispatcher);
    for (const value of [42, undefined, { code: 'E' }])
      await pool.enqueue('odd', value, { sessionId: 's' });
    await pool.submit('ok', null, { sessionId: 's' }); // runs after the three failures
    const lines = logged.mock.calls.map((c) => String(c[0]));
    expect(lines).toEqual([
      'Task 1 (odd, session s) failed and nobody awaited it: 42',
      'Task 2 (odd, session s) failed and nobody awaited it: undefined',
      'Task 3 (odd, session s) failed and nobody awaited it: [object Object]',
    ]);
    await app.close();
  });

  // FIXED (found by this suite): WorkerPoolRef's onUnhandledFailure formats a non-Error with String(error), which
  // throws for a null-prototype object or a value whose toString throws. The engine's
  // reportUnhandled() swallows the reporter's exception, so the failure is never logged: it
  // is lost silently. Fix: format defensively in lib/worker-pool.ref.ts, e.g.
  // `try { text = String(error) } catch { text = Object.prototype.toString.call(error) }`
  // (or util.inspect(error)).
  it.each<[string, unknown]>([
    ['a null-prototype object', Object.create(null)],
    [
      'an object whose toString throws',
      {
        toString() {
          throw new Error('no string for you');
        },
      },
    ],
  ])('logs a failure of an enqueued task that rejects with %s', async (_, value) => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    @Injectable()
    class Odd {
      @TaskHandler('odd')
      run(v: unknown): Promise<never> {
        return Promise.reject(v);
      }
      @TaskHandler('ok')
      ok(): string {
        return 'ok';
      }
    }
    const app = await boot([Odd], [WorkerPoolModule.forRoot()]);
    const pool = app.get(Dispatcher);
    await pool.enqueue('odd', value, { sessionId: 's' });
    await pool.submit('ok', null, { sessionId: 's' });
    await app.close();
    expect(logged).toHaveBeenCalledTimes(1);
    expect(String(logged.mock.calls[0][0])).toMatch(
      /^Task 1 \(odd, session s\) failed and nobody awaited it/,
    );
  });
});

import 'reflect-metadata';
import { Injectable, Module, type OnModuleInit, Scope } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ScheduleModule } from '@nestjs/schedule';
import {
  Autoscaler,
  Dispatcher,
  DuplicateHandlerError,
  InjectAutoscaler,
  InjectDispatcher,
  InvalidOptionError,
  PoolClosedError,
  RequestScopedHandlerError,
  type TaskContext,
  TaskHandler,
  UnknownPoolError,
  UnknownTaskTypeError,
  WorkerPoolModule,
  type WorkerPoolOptions,
  getAutoscalerToken,
  getDispatcherToken,
} from '../../lib/index.js';
import { deferred } from '../support/deferred.js';

@Injectable()
class Greeter {
  readonly greeting = 'hello';
  contexts: TaskContext[] = [];

  @TaskHandler('greet')
  greet(name: string, ctx: TaskContext): string {
    this.contexts.push(ctx);
    return `${this.greeting} ${name}`;
  }

  notAHandler(): void {}
}

async function boot(
  providers: unknown[],
  imports: unknown[] = [WorkerPoolModule.forRoot({ lanes: 2 })],
) {
  const moduleRef = await Test.createTestingModule({
    imports: imports as never[],
    providers: providers as never[],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('WorkerPoolModule (e2e)', () => {
  it('discovers @TaskHandler methods and calls them with the DI instance and a context', async () => {
    const app = await boot([Greeter]);
    const pool = app.get(Dispatcher);
    await expect(pool.submit('greet', 'ada', { sessionId: 'u1' })).resolves.toBe('hello ada');
    const ctx = app.get(Greeter).contexts[0];
    expect(ctx).toMatchObject({ type: 'greet', sessionId: 'u1', attempt: 1, taskId: 1 });
    expect(ctx.signal).toBeInstanceOf(AbortSignal);
    expect(pool.handlerTypes()).toEqual(['greet']);
    await app.close();
  });

  it('applies a handler retry policy from @TaskHandler options', async () => {
    @Injectable()
    class Flaky {
      attempts: number[] = [];
      @TaskHandler('flaky', { retry: { attempts: 3, delayMs: 0, jitter: false }, timeoutMs: 5_000 })
      run(_: unknown, ctx: TaskContext): string {
        this.attempts.push(ctx.attempt);
        if (ctx.attempt < 3) throw new Error('not yet');
        return 'done';
      }
    }
    const app = await boot([Flaky]);
    await expect(app.get(Dispatcher).submit('flaky', null, { sessionId: 'f' })).resolves.toBe(
      'done',
    );
    expect(app.get(Flaky).attempts).toEqual([1, 2, 3]);
    expect(() => TaskHandler('x', { timeoutMs: -1 })).toThrow(/@TaskHandler timeoutMs/);
    await app.close();
  });

  it('rejects an unknown type with a named error listing the known ones', async () => {
    const app = await boot([Greeter]);
    await expect(app.get(Dispatcher).submit('gret', 'x')).rejects.toThrow(UnknownTaskTypeError);
    await expect(app.get(Dispatcher).submit('gret', 'x')).rejects.toThrow(/Known types: "greet"/);
    await app.close();
  });

  it('fails startup when two handlers claim one type, naming both', async () => {
    @Injectable()
    class OtherGreeter {
      @TaskHandler('greet')
      hi(): string {
        return 'hi';
      }
    }
    await expect(boot([Greeter, OtherGreeter])).rejects.toThrow(DuplicateHandlerError);
    await expect(boot([Greeter, OtherGreeter])).rejects.toThrow(
      /Greeter\.greet and OtherGreeter\.hi/,
    );
  });

  it('fails startup for a handler on a request-scoped provider', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest {
      @TaskHandler('per-request')
      run(): void {}
    }
    await expect(boot([PerRequest])).rejects.toThrow(RequestScopedHandlerError);
  });

  it('fails startup for a handler bound to a pool that does not exist', async () => {
    @Injectable()
    class Lost {
      @TaskHandler('lost', { pool: 'nope' })
      run(): void {}
    }
    await expect(boot([Lost])).rejects.toThrow(UnknownPoolError);
    await expect(boot([Lost])).rejects.toThrow(/pool "nope".*pools: "default"/);
  });

  it('validates options at startup with a message per bad value', async () => {
    await expect(boot([], [WorkerPoolModule.forRoot({ lanes: -2 })])).rejects.toThrow(
      /Invalid option "lanes": got -2/,
    );
    await expect(boot([], [WorkerPoolModule.forRoot({ drainTimeoutMs: -1 })])).rejects.toThrow(
      /"drainTimeoutMs"/,
    );
    expect(() => WorkerPoolModule.forRoot({ name: '' })).toThrow(InvalidOptionError);
    expect(() => WorkerPoolModule.forRootAsync({})).toThrow(
      /exactly one of useFactory, useClass or useExisting/,
    );
    expect(() => TaskHandler('')).toThrow(/@TaskHandler type/);
    expect(() => TaskHandler('x', { pool: 3 as never })).toThrow(/@TaskHandler pool/);
    expect(() => TaskHandler('x', { retry: { attempts: 0 } })).toThrow(
      /@TaskHandler retry.attempts/,
    );
  });

  it('supports forRootAsync with an injected factory, and useClass', async () => {
    @Injectable()
    class Config {
      lanes = 3;
    }
    @Module({ providers: [Config], exports: [Config] })
    class ConfigModule {}
    const app = await boot(
      [Greeter],
      [
        WorkerPoolModule.forRootAsync({
          imports: [ConfigModule],
          inject: [Config],
          useFactory: (config: Config): WorkerPoolOptions => ({ lanes: config.lanes }),
        }),
      ],
    );
    expect(app.get(Dispatcher).stats().lanes).toHaveLength(3);
    await app.close();

    @Injectable()
    class PoolConfig {
      createWorkerPoolOptions(): WorkerPoolOptions {
        return { lanes: 5 };
      }
    }
    const app2 = await boot([Greeter], [WorkerPoolModule.forRootAsync({ useClass: PoolConfig })]);
    expect(app2.get(Dispatcher).stats().lanes).toHaveLength(5);
    await app2.close();
  });

  it('fails startup on a number read from config as a string, saying how to convert it; the converted value boots', async () => {
    // As @nestjs/config's ConfigService reads the environment: every value is a string.
    @Injectable()
    class ConfigService {
      get(key: string): string | undefined {
        return { POOL_LANES: '8' }[key];
      }
    }
    @Module({ providers: [ConfigService], exports: [ConfigService] })
    class ConfigModule {}
    const fromConfig = (read: (config: ConfigService) => WorkerPoolOptions) =>
      WorkerPoolModule.forRootAsync({
        imports: [ConfigModule],
        inject: [ConfigService],
        useFactory: read,
      });
    await expect(
      boot([Greeter], [fromConfig((config) => ({ lanes: config.get('POOL_LANES') as never }))]),
    ).rejects.toThrow(
      `Invalid option "lanes": got the string "8"; expected an integer >= 1. Values read from the environment are strings: convert them first, e.g. Number(config.get('POOL_LANES')).`,
    );
    // The README's snippet.
    const app = await boot(
      [Greeter],
      [fromConfig((config) => ({ lanes: Number(config.get('POOL_LANES') ?? 8) }))],
    );
    expect(app.get(Dispatcher).stats().lanes).toHaveLength(8);
    await app.close();
  });

  // A type test too: `npm run typecheck` fails if a @ts-expect-error line below compiles.
  it('rejects a misspelt key from a forRootAsync factory at compile time, as forRoot does', async () => {
    const typo = WorkerPoolModule.forRootAsync({
      // @ts-expect-error drainTimeout is no option (drainTimeoutMs is)
      useFactory: () => ({ lanes: 2, drainTimeout: 1000 }),
    });
    WorkerPoolModule.forRootAsync({
      // @ts-expect-error the same typo in an async factory
      useFactory: async () => ({ lanes: 2, drainTimeout: 1000 }),
    });
    WorkerPoolModule.forRootAsync({
      // @ts-expect-error a typo in a nested option
      useFactory: () => ({ lanes: 2, autoscale: { min: 1, max: 4, mni: 1 } }),
    });
    class TypoFactory {
      createWorkerPoolOptions() {
        return { lanes: 2, drainTimeout: 1000 };
      }
    }
    // @ts-expect-error the same typo in what a useClass factory returns
    WorkerPoolModule.forRootAsync({ useClass: TypoFactory });
    // Each misspelling also fails at startup (a factory typed `any` gets only this check).
    await expect(boot([Greeter], [typo])).rejects.toThrow(
      /Invalid option "drainTimeout": got 1000; expected no such option/,
    );
    // What compiles: factories with inject, branches returning different keys, nested
    // options, functions among the options, and a factory typed WorkerPoolOptions.
    const lanes = (n: string) => Number(n);
    WorkerPoolModule.forRootAsync({
      inject: [Greeter],
      useFactory: (g: Greeter) => (g.greeting ? { lanes: 2 } : { maxLanes: 3, drainTimeoutMs: 5 }),
    });
    WorkerPoolModule.forRootAsync({
      useFactory: async () => ({
        lanes: lanes('2'),
        autoscale: { min: 1, max: 4, policy: { targetUtilization: 0.5 } },
        rateLimit: { tasks: 10, intervalMs: 1000 },
        onUnhandledFailure: () => undefined,
      }),
    });
    const app = await boot(
      [Greeter],
      [WorkerPoolModule.forRootAsync({ useFactory: (): WorkerPoolOptions => ({ lanes: 3 }) })],
    );
    expect(app.get(Dispatcher).stats().lanes).toHaveLength(3);
    await app.close();
  });

  it("injects a pool's Autoscaler with @InjectAutoscaler(name?) as Autoscaler | null: null without autoscale", async () => {
    @Injectable()
    class Scaling {
      constructor(
        @InjectAutoscaler() readonly main: Autoscaler | null,
        @InjectAutoscaler('scaled') readonly scaled: Autoscaler | null,
      ) {}
    }
    const app = await boot(
      [Scaling],
      [
        ScheduleModule.forRoot(),
        WorkerPoolModule.forRoot({ lanes: 1 }),
        WorkerPoolModule.forRoot({ name: 'scaled', lanes: 2, autoscale: { min: 1, max: 4 } }),
      ],
    );
    const { main, scaled } = app.get(Scaling);
    expect(main).toBeNull();
    expect(scaled).toBeInstanceOf(Autoscaler);
    expect(scaled).toBe(app.get(getAutoscalerToken('scaled')));
    await app.close();
  });

  it('runs named pools side by side, each with its own handlers, injected by name', async () => {
    @Injectable()
    class Reports {
      @TaskHandler('render', { pool: 'reports' })
      render(id: number): string {
        return `report ${id}`;
      }
    }
    @Injectable()
    class Consumer {
      constructor(
        readonly main: Dispatcher,
        @InjectDispatcher('reports') readonly reports: Dispatcher,
      ) {}
    }
    const app = await boot(
      [Greeter, Reports, Consumer],
      [
        WorkerPoolModule.forRoot({ lanes: 2 }),
        WorkerPoolModule.forRoot({ name: 'reports', lanes: 1 }),
      ],
    );
    const consumer = app.get(Consumer);
    expect(consumer.main).not.toBe(consumer.reports);
    expect(consumer.reports).toBe(app.get(getDispatcherToken('reports')));
    await expect(consumer.reports.submit('render', 7)).resolves.toBe('report 7');
    await expect(consumer.main.submit('render', 7)).rejects.toThrow(UnknownTaskTypeError);
    expect(consumer.main.handlerTypes()).toEqual(['greet']);
    await app.close();
  });

  it('makes the dispatcher injectable app-wide with isGlobal', async () => {
    @Injectable()
    class Deep {
      constructor(readonly pool: Dispatcher) {}
    }
    @Module({ providers: [Deep], exports: [Deep] })
    class FeatureModule {}
    const app = await boot([], [WorkerPoolModule.forRoot({ isGlobal: true }), FeatureModule]);
    expect(app.get(Deep).pool).toBeInstanceOf(Dispatcher);
    await app.close();
  });

  it('starts as its module initializes and drains on close: queued tasks finish, later submits are refused', async () => {
    const gate = deferred();
    const finished: number[] = [];
    @Injectable()
    class Slow {
      @TaskHandler('slow')
      async run(n: number): Promise<void> {
        await gate.promise;
        finished.push(n);
      }
    }
    @Injectable()
    class EarlyBird implements OnModuleInit {
      early?: Promise<unknown>;
      stateAtInit?: string;
      constructor(private readonly pool: Dispatcher) {}
      onModuleInit(): void {
        // The pool registers its handlers and starts before the hooks of modules that use it.
        this.early = this.pool.submit('slow', 0, { sessionId: 'a' });
        this.stateAtInit = this.pool.stats().state;
      }
    }
    const app = await boot(
      [Slow, EarlyBird],
      [WorkerPoolModule.forRoot({ lanes: 2, drainTimeoutMs: 60_000 })],
    );
    const pool = app.get(Dispatcher);
    const { early, stateAtInit } = app.get(EarlyBird);
    expect(stateAtInit).toBe('running');
    expect(pool.stats().state).toBe('running');
    const work = [1, 2, 3].map((n) => pool.submit('slow', n, { sessionId: 'a' }));
    const closing = app.close();
    // close() runs onModuleDestroy hooks first; drain starts in beforeApplicationShutdown.
    while (pool.accepting) await new Promise((r) => setImmediate(r));
    await expect(pool.submit('slow', 9)).rejects.toThrow(PoolClosedError);
    gate.resolve();
    await closing;
    await Promise.all([early, ...work]);
    expect(finished).toEqual([0, 1, 2, 3]);
    expect(pool.stats().state).toBe('stopped');
  });
});

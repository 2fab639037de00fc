import 'reflect-metadata';
import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  Dispatcher,
  TaskHandler,
  UnknownTaskTypeError,
  WorkerPoolModule,
} from '../../lib/index.js';
import { failure } from '../support/errors.js';

/**
 * Work submitted and awaited while the app starts: the pool starts as its module
 * initializes, right after it registers the handlers, so a provider's onModuleInit may await
 * a task (it used to hang startup forever: the pool started at bootstrap).
 */

@Injectable()
class Greeter {
  @TaskHandler('greet')
  greet(name: string): string {
    return `hello ${name}`;
  }
}

@Injectable()
class Warmup implements OnModuleInit {
  result?: string;
  constructor(private readonly pool: Dispatcher) {}
  async onModuleInit(): Promise<void> {
    this.result = await this.pool.submit<string>('greet', 'init', { sessionId: 'w' });
  }
}

/** Resolves true once `init` resolves, or false after `n` turns of the event loop. */
async function settlesWithin(init: Promise<unknown>, n = 200): Promise<boolean> {
  let done = false;
  void init.then(() => (done = true));
  for (let i = 0; i < n && !done; i++) await new Promise((r) => setImmediate(r));
  return done;
}

async function create(imports: unknown[], providers: unknown[] = []) {
  const moduleRef = await Test.createTestingModule({
    imports: imports as never[],
    providers: providers as never[],
  }).compile();
  return moduleRef.createNestApplication({ logger: false });
}

describe('submit during startup (e2e)', () => {
  it("lets a provider's onModuleInit await submit(); the pool runs by then", async () => {
    const app = await create([WorkerPoolModule.forRoot({ lanes: 2 })], [Greeter, Warmup]);
    const init = app.init();
    expect(await settlesWithin(init)).toBe(true);
    await init;
    expect(app.get(Warmup).result).toBe('hello init');
    expect(app.get(Dispatcher).stats().state).toBe('running');
    await app.close();
  });

  it('works from a feature module imported before a global pool', async () => {
    @Module({ providers: [Greeter, Warmup] })
    class FeatureModule {}
    const app = await create([
      FeatureModule, // listed first: its hooks must still run after the pool has started
      WorkerPoolModule.forRoot({ lanes: 2, isGlobal: true }),
    ]);
    const init = app.init();
    expect(await settlesWithin(init)).toBe(true);
    await init;
    expect(app.get(Warmup).result).toBe('hello init');
    await app.close();
  });

  it('fails fast, saying where to submit, for a submit made before the handlers are registered', async () => {
    @Injectable()
    class TooEarly {
      readonly early: Promise<unknown>;
      constructor(pool: Dispatcher) {
        this.early = failure(() => pool.submit('greet', 'ctor'));
      }
    }
    const app = await create([WorkerPoolModule.forRoot({ lanes: 1 })], [Greeter, TooEarly]);
    await app.init();
    const error = await app.get(TooEarly).early;
    expect(error).toBeInstanceOf(UnknownTaskTypeError);
    expect((error as Error).message).toMatch(
      /nor for any other yet\..*submit from onModuleInit or later, not from a constructor or a factory\.$/,
    );
    await app.close();
  });
});

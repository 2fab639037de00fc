import 'reflect-metadata';
import {
  Controller,
  Headers,
  Injectable,
  type INestApplication,
  Module,
  Post,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ClsModule, ClsService } from 'nestjs-cls';
import type { IncomingMessage } from 'node:http';
import { Dispatcher, type TaskContext, TaskHandler, WorkerPoolModule } from '../../lib/index.js';
import { deferred } from '../support/deferred.js';

// The leak this guards against: run loops started inside one request's call used to run
// every later task in that request's context, so handlers read another request's user.
// Here 12 concurrent HTTP requests, each from its own user (set by nestjs-cls's middleware
// from a header), submit 8 tasks each: on sessions shared by all users (queued behind other
// users' tasks), on their own sessions, unkeyed, retried, timed out, fire-and-forget; half
// the lanes are removed while tasks wait, so queued sessions move lanes.

interface Job {
  user: string;
  i: number;
}

interface Read {
  type: string;
  expected: string;
  seen: unknown[];
}

@Injectable()
class Gate {
  readonly open = deferred();
  readonly reads: Read[] = [];
}

@Injectable()
class UserHandlers {
  constructor(
    private readonly cls: ClsService,
    private readonly gate: Gate,
  ) {}

  @TaskHandler('read')
  async read(job: Job): Promise<void> {
    const before = this.cls.get('user');
    await this.gate.open.promise;
    this.gate.reads.push({
      type: 'read',
      expected: job.user,
      seen: [before, this.cls.get('user')],
    });
  }

  @TaskHandler('flaky', { retry: { attempts: 2, delayMs: 1 } })
  async flaky(job: Job, ctx: TaskContext): Promise<void> {
    const before = this.cls.get('user');
    await Promise.resolve();
    this.gate.reads.push({
      type: 'flaky',
      expected: job.user,
      seen: [before, this.cls.get('user')],
    });
    if (ctx.attempt === 1) throw new Error('first attempt fails');
  }

  // Runs until its timeout aborts it, then reads the user as a late handler.
  @TaskHandler('slow', { timeoutMs: 30 })
  async slow(job: Job, ctx: TaskContext): Promise<void> {
    const before = this.cls.get('user');
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    this.gate.reads.push({
      type: 'slow',
      expected: job.user,
      seen: [before, this.cls.get('user')],
    });
  }
}

@Controller()
class WorkController {
  constructor(
    private readonly pool: Dispatcher,
    private readonly cls: ClsService,
  ) {}

  @Post('work')
  async work(@Headers('x-user') header: string): Promise<{ user: string; outcomes: string[] }> {
    const user = this.cls.get<string>('user');
    const job = (i: number): Job => ({ user, i });
    const settled = await Promise.allSettled([
      this.pool.submit('read', job(0), { sessionId: 'shared-0' }),
      this.pool.submit('read', job(1), { sessionId: 'shared-1' }),
      this.pool.submit('read', job(2), { sessionId: `own-${user}-2` }),
      this.pool.submit('read', job(3), { sessionId: `own-${user}-3` }),
      this.pool.submit('read', job(4)),
      this.pool.submit('flaky', job(5), { sessionId: 'shared-2' }),
      this.pool.submit('slow', job(6), { sessionId: `own-${user}-slow` }),
      this.pool.enqueue('read', job(7), { sessionId: 'shared-0' }),
    ]);
    return { user: header, outcomes: settled.map((s) => s.status) };
  }
}

@Module({
  imports: [
    ClsModule.forRoot({
      global: true,
      middleware: {
        mount: true,
        setup: (cls, req: IncomingMessage) => cls.set('user', req.headers['x-user']),
      },
    }),
    WorkerPoolModule.forRoot({ lanes: 4, laneConcurrency: 2, maxLanes: 8 }),
  ],
  controllers: [WorkController],
  providers: [UserHandlers, Gate],
})
class AppModule {}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !condition(); i++) await new Promise((r) => setImmediate(r));
  if (!condition()) throw new Error('condition not reached');
}

describe('nestjs-cls through the pool over real HTTP (e2e)', () => {
  let app: INestApplication;

  afterEach(() => app?.close());

  it("12 concurrent users x 8 tasks: every handler reads its own request's user, none another's", async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    const url = `${await app.getUrl()}/work`.replace('[::1]', '127.0.0.1');
    const pool = app.get(Dispatcher);
    const gate = app.get(Gate);

    const users = Array.from({ length: 12 }, (_, k) => `user-${k}`);
    const responses = users.map((user) =>
      fetch(url, { method: 'POST', headers: { 'x-user': user } }).then(
        (r) => r.json() as Promise<{ user: string; outcomes: string[] }>,
      ),
    );
    // Every task accepted and the lanes full of held handlers: now move sessions.
    await until(() => pool.stats().accepted === 12 * 8);
    const before = pool.stats().lanes;
    const waitingOnRemoved = before.filter((l) => l.id >= 2).reduce((n, l) => n + l.queued, 0);
    expect(waitingOnRemoved).toBeGreaterThan(0);
    const resized = pool.resize(2);
    gate.open.resolve();

    const bodies = await Promise.all(responses);
    await resized;
    await until(() => gate.reads.length === 12 * (6 + 2 + 1));
    for (const { user, outcomes } of bodies) {
      expect(outcomes.filter((o) => o === 'rejected')).toHaveLength(1); // the timed-out one
      expect(user).toMatch(/^user-/);
    }
    expect(pool.stats()).toMatchObject({ timedOut: 12, retried: 12, failed: 0 });
    const mismatches = gate.reads.filter((r) => r.seen.some((u) => u !== r.expected));
    expect(mismatches).toEqual([]);
    const byType = (t: string) => gate.reads.filter((r) => r.type === t).length;
    expect([byType('read'), byType('flaky'), byType('slow')]).toEqual([72, 24, 12]);
  });
});

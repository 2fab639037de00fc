import 'reflect-metadata';
import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  type INestApplication,
  Module,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ScheduleModule } from '@nestjs/schedule';
import {
  WorkerPoolDashboardModule,
  type WorkerPoolDashboardOptions,
} from '../../lib/dashboard/index.js';
import {
  Autoscaler,
  Dispatcher,
  InvalidOptionError,
  TaskHandler,
  WorkerPoolModule,
} from '../../lib/index.js';

@Injectable()
class Work {
  @TaskHandler('t')
  t(): void {}
}

/** What the guard class below injects: it comes from the `imports` option. */
@Injectable()
class Tokens {
  readonly admin = 'let-me-in';
}
@Module({ providers: [Tokens], exports: [Tokens] })
class TokensModule {}

@Injectable()
class AdminGuard implements CanActivate {
  constructor(@Inject(Tokens) private readonly tokens: Tokens) {}
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string> }>();
    return req.headers['x-admin'] === this.tokens.admin;
  }
}

type Adapter = 'express' | 'fastify';

async function boot(adapter: Adapter, dashboard: WorkerPoolDashboardOptions) {
  @Module({
    imports: [
      ScheduleModule.forRoot(),
      WorkerPoolModule.forRoot({
        lanes: 2,
        maxLanes: 6,
        autoscale: { min: 1, max: 6, cron: '0 0 0 1 1 *' },
      }),
      WorkerPoolDashboardModule.forRoot(dashboard),
    ],
    providers: [Work],
  })
  class AppModule {}
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(AppModule, new FastifyAdapter(), { logger: false })
      : await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  return { app, url: `${await app.getUrl()}/ops/pool` };
}

/** Status and content type of the event stream; reads its first message when it opens. */
async function openStream(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const res = await fetch(`${url}/events`, { headers, signal: controller.signal });
  let first = '';
  if (res.ok) {
    const reader = res.body!.getReader();
    const chunk = await reader.read();
    first = new TextDecoder().decode(chunk.value);
  }
  controller.abort();
  return { status: res.status, type: res.headers.get('content-type'), first };
}

const json = { 'content-type': 'application/json' };

describe.each<Adapter>(['express', 'fastify'])('dashboard access (e2e, %s)', (adapter) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('a guard that denies blocks the page, its assets and its event stream (403)', async () => {
    let asked = 0;
    ({ app } = await boot(adapter, {
      path: '/ops/pool',
      guard: () => {
        asked++;
        return false;
      },
    }));
    const url = `${await app.getUrl()}/ops/pool`;
    expect((await fetch(url)).status).toBe(403);
    expect((await fetch(`${url}/assets/app.js`)).status).toBe(403);
    const stream = await openStream(url);
    expect(stream.status).toBe(403);
    expect(stream.type).toMatch(/application\/json/);
    expect((await fetch(`${url}/session?pool=default&id=a`)).status).toBe(403);
    expect(asked).toBe(4);
  });

  it('a guard class with injected dependencies lets the right request in, page and stream', async () => {
    let url: string;
    ({ app, url } = await boot(adapter, {
      path: '/ops/pool',
      guard: AdminGuard,
      imports: [TokensModule],
    }));
    const admin = { 'x-admin': 'let-me-in' };
    expect((await fetch(url)).status).toBe(403);
    expect((await openStream(url)).status).toBe(403);
    const page = await fetch(url, { headers: admin });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<base href="/ops/pool/">');
    for (const [file, type, text] of [
      ['app.js', /text\/javascript/, 'EventSource'],
      ['uplot.js', /text\/javascript/, 'uPlot'],
      ['style.css', /text\/css/, '.card'],
    ] as const) {
      const asset = await fetch(`${url}/assets/${file}`, { headers: admin });
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toMatch(type);
      expect(await asset.text()).toContain(text);
    }
    expect((await fetch(`${url}/assets/nope.js`, { headers: admin })).status).toBe(404);
    const stream = await openStream(url, admin);
    expect(stream).toMatchObject({
      status: 200,
      type: expect.stringMatching(/text\/event-stream/),
    });
    expect(stream.first).toMatch(/^event: snapshot\n/m);
    expect(stream.first).toContain('"name":"default"');
  });

  it('actions: refused (403) by default; with actions: true, pause, resume and resize work, as JSON only', async () => {
    let url: string;
    ({ app, url } = await boot(adapter, { path: '/ops/pool' }));
    const refused = await fetch(`${url}/pools/default/resize`, {
      method: 'POST',
      headers: json,
      body: '{"lanes":3}',
    });
    expect(refused.status).toBe(403);
    expect(app.get(Dispatcher).stats().lanes).toHaveLength(2);
    await app.close();

    ({ app, url } = await boot(adapter, { path: '/ops/pool', actions: true }));
    const pool = app.get(Dispatcher);
    const scaler = app.get(Autoscaler);
    const pause = await fetch(`${url}/pools/default/pause`, {
      method: 'POST',
      headers: json,
      body: '{}',
    });
    expect(pause.status).toBe(200);
    expect(scaler.paused).toBe(true);
    await fetch(`${url}/pools/default/resume`, { method: 'POST', headers: json, body: '{}' });
    expect(scaler.paused).toBe(false);
    // A cross-site form posts text/plain: refused before anything happens.
    const form = await fetch(`${url}/pools/default/pause`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{}',
    });
    expect(form.status).toBe(415);
    expect(scaler.paused).toBe(false);
    const resize = await fetch(`${url}/pools/default/resize`, {
      method: 'POST',
      headers: json,
      body: '{"lanes":4}',
    });
    expect(resize.status).toBe(202);
    expect(pool.stats().lanes.filter((l) => !l.retiring)).toHaveLength(4);
    const tooMany = await fetch(`${url}/pools/default/resize`, {
      method: 'POST',
      headers: json,
      body: '{"lanes":7}',
    });
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { message: string }).message).toMatch(/maxLanes \(6\)/);
    const unknown = await fetch(`${url}/pools/nope/pause`, {
      method: 'POST',
      headers: json,
      body: '{}',
    });
    expect(unknown.status).toBe(404);
  });

  it('an open event stream does not hold the app when it closes', async () => {
    let url: string;
    ({ app, url } = await boot(adapter, { path: '/ops/pool' }));
    const client = new AbortController();
    const res = await fetch(`${url}/events`, { signal: client.signal });
    const reader = res.body!.getReader();
    await reader.read();
    const closing = app.close();
    app = undefined;
    // The server ends the stream as the app shuts down; without that, close() waited forever
    // (the fail-safe below then frees the connection so that the failure is reported).
    const ended = (async () => {
      while (!(await reader.read()).done);
      return 'ended';
    })();
    let failSafe: NodeJS.Timeout | undefined;
    const hung = new Promise<string>(
      (r) => (failSafe = setTimeout(() => r('still open after 10 s'), 10_000)),
    );
    const outcome = await Promise.race([ended, hung]);
    clearTimeout(failSafe);
    if (outcome !== 'ended') client.abort();
    await closing;
    expect(outcome).toBe('ended');
  });

  it('names a bad option', () => {
    expect(() => WorkerPoolDashboardModule.forRoot({ path: 'pool' })).toThrow(InvalidOptionError);
    expect(() => WorkerPoolDashboardModule.forRoot({ actions: 'yes' as never })).toThrow(
      /"actions"/,
    );
    expect(() => WorkerPoolDashboardModule.forRoot({ guard: 42 as never })).toThrow(/"guard"/);
    expect(() => WorkerPoolDashboardModule.forRoot({ gaurd: () => true } as never)).toThrow(
      /"gaurd".*known options/,
    );
  });
});

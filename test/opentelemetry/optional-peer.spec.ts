import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// @opentelemetry/api is an optional peer: only nest-worker-pool/opentelemetry imports it.
// A child process whose module resolver refuses any @opentelemetry package runs a pool (core
// and Nest entry); the same resolver makes the opentelemetry entry fail, so the check bites.
const root = fileURLToPath(new URL('../../', import.meta.url));
const refuse = `export async function resolve(s, c, next) {
  if (!s.startsWith('@opentelemetry/')) return next(s, c);
  process.stderr.write('resolved ' + s + '\\n');
  throw new Error('resolved ' + s);
}`;

function runWithoutOtel(body: string): string {
  const script = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(refuse)}));
const dist = (p) => new URL(p, ${JSON.stringify(new URL('dist/', `file://${root}`).href)}).href;
${body}`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('without @opentelemetry/api', () => {
  it('a pool runs tasks and nothing resolves an @opentelemetry package', () => {
    const out = runWithoutOtel(`
const { Dispatcher } = await import(dist('lib/index.js'));
const pool = new Dispatcher({ lanes: 2 });
pool.registerHandler('x', (n) => n * 2);
pool.start();
console.log(await pool.submit('x', 21, { sessionId: 's' }));
await pool.drain();`);
    expect(out.trim()).toBe('42');
  });

  it('the opentelemetry entry is what needs it', () => {
    expect(() => runWithoutOtel(`await import(dist('lib/opentelemetry/index.js'));`)).toThrow(
      /resolved @opentelemetry\/api/,
    );
  });

  it('a lane thread without it runs traced tasks untraced (the main thread traces them)', () => {
    // The resolver refuses @opentelemetry in worker threads only (`--import` runs in each).
    const pre = `import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';
if (!isMainThread) register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(refuse)}));`;
    const main = join(root, 'dist/otel-thread-without-api.mjs');
    writeFileSync(
      main,
      `import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Dispatcher, ThreadLanes } from './lib/index.js';
import { tracePoolTasks } from './lib/opentelemetry/index.js';
const exporter = new InMemorySpanExporter();
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
const pool = new Dispatcher({ lanes: 1, laneConcurrency: 4, instrument: tracePoolTasks() });
const threads = new ThreadLanes(pool, { module: new URL('./test/fixtures/threads/counter.module.js', import.meta.url) });
await threads.start();
pool.start();
const out = await trace.getTracer('t').startActiveSpan('request', (span) =>
  Promise.all([1, 2, 3].map((n) => pool.submit('echo', n, { sessionId: 's' }))).finally(() => span.end()));
await pool.drain();
await threads.close();
console.log(JSON.stringify({ payloads: out.map((r) => r.payload), taskSpans: exporter.getFinishedSpans().filter((s) => s.name === 'worker_pool.task').length }));`,
    );
    try {
      const r = spawnSync(
        process.execPath,
        ['--import', `data:text/javascript,${encodeURIComponent(pre)}`, main],
        { cwd: root, encoding: 'utf8', timeout: 80_000 },
      );
      expect(r.stderr).toMatch(/resolved @opentelemetry\/api/);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ payloads: [1, 2, 3], taskSpans: 3 });
    } finally {
      rmSync(main, { force: true });
    }
  }, 90_000);

  it('no file outside lib/opentelemetry imports an @opentelemetry package', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, e.name);
        if (e.isDirectory()) {
          if (e.name !== 'opentelemetry') walk(path);
        } else if (/['"]@opentelemetry\//.test(readFileSync(path, 'utf8'))) offenders.push(path);
      }
    };
    walk(join(root, 'lib'));
    expect(offenders).toEqual([]);
  });
});

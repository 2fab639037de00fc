import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// @opentelemetry/api is an optional peer: only nest-worker-pool/opentelemetry imports it.
// A child process whose module resolver refuses any @opentelemetry package runs a pool (core
// and Nest entry); the same resolver makes the opentelemetry entry fail, so the check bites.
const root = fileURLToPath(new URL('../../', import.meta.url));
const refuse = `export async function resolve(s, c, next) {
  if (s.startsWith('@opentelemetry/')) throw new Error('resolved ' + s);
  return next(s, c);
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

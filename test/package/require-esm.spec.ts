// A CommonJS app loads every entry point of the built package by name through `exports`
// (require(esm), Node >= 20.19): no entry point may be import-only or use top-level await.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as {
  exports: Record<string, unknown>;
};
const entryPoints = Object.keys(pkg.exports)
  .filter((key) => key !== './package.json')
  .map((key) => (key === '.' ? 'nest-worker-pool' : `nest-worker-pool/${key.slice(2)}`));

/** require()s the package by name from a CommonJS script run in the repo (self-reference). */
function requireFromCommonJs(specifier: string) {
  const script = `const m = require(${JSON.stringify(specifier)}); console.log(Object.keys(m).length);`;
  return spawnSync(process.execPath, ['--input-type=commonjs', '-e', script], {
    cwd: root,
    encoding: 'utf8',
  });
}

describe('CommonJS consumers', () => {
  it('lists the seven entry points', () => {
    expect(entryPoints).toEqual([
      'nest-worker-pool',
      'nest-worker-pool/core',
      'nest-worker-pool/health',
      'nest-worker-pool/prometheus',
      'nest-worker-pool/opentelemetry',
      'nest-worker-pool/dashboard',
      'nest-worker-pool/cluster',
    ]);
  });

  it.each(entryPoints)('require(%j) returns its exports', (specifier) => {
    const r = requireFromCommonJs(specifier);
    expect(r.stderr).not.toMatch(/ERR_|Error/);
    expect(r.status).toBe(0);
    expect(Number(r.stdout.trim())).toBeGreaterThan(0);
  });
});

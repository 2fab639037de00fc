// The packaging check: what a user installs is what we test. Packs the package, checks the
// tarball's contents, then installs it into each consumer app (an ESM Nest 12 app, a CommonJS
// Nest 11 app), builds the app with its own tsc, then boots it on each Node given and runs
// test/consumers/checks.ts; a consumer with a test script also runs its own tests (the
// CommonJS app's Jest suite). Each of those is one test: passed or failed, never skipped.
// Exit 1 if any failed.
//
//   node test/consumers/check.mjs [--json results.json] [--node path/to/node ...] [consumer-dir ...]
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const CONSUMERS = ['esm-nest12', 'cjs-nest11'];
const BOOT_TIMEOUT_MS = 60_000;
const NPM_TIMEOUT_MS = 10 * 60_000;

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonPath = jsonAt >= 0 ? resolve(args.splice(jsonAt, 2)[1]) : undefined;
const nodes = [];
for (let at; (at = args.indexOf('--node')) >= 0;) nodes.push(resolve(args.splice(at, 2)[1]));
if (nodes.length === 0) nodes.push(process.execPath);
const consumers = args.length > 0 ? args : CONSUMERS;

class CheckFailed extends Error {}

/** Runs a command; throws CheckFailed with the tail of its output unless it exits 0. */
function run(cmd, cmdArgs, cwd, timeout = NPM_TIMEOUT_MS) {
  const r = spawnSync(cmd, cmdArgs, { cwd, encoding: 'utf8', timeout, env: process.env });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.error?.code === 'ETIMEDOUT') {
    throw new CheckFailed(
      `${cmd} ${cmdArgs.join(' ')} did not exit within ${timeout / 1000} s\n${tail(out)}`,
    );
  }
  if (r.status !== 0) {
    throw new CheckFailed(
      `${cmd} ${cmdArgs.join(' ')} exited ${r.status ?? r.signal}\n${tail(out)}`,
    );
  }
  return { stdout: r.stdout, out };
}

const tail = (text, lines = 25) => text.trimEnd().split('\n').slice(-lines).join('\n');

function walk(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** The tarball as a user gets it: a licence, links, and the sources every source map names. */
function checkTarball(tgz, tmp) {
  const dir = join(tmp, 'unpacked');
  rmSync(dir, { recursive: true, force: true });
  run('mkdir', ['-p', dir], tmp);
  run('tar', ['xzf', tgz, '-C', dir], tmp);
  const pkgDir = join(dir, 'package');
  const problems = [];
  if (!existsSync(join(pkgDir, 'LICENSE'))) problems.push('no LICENSE file');
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  for (const field of ['repository', 'homepage', 'bugs']) {
    if (!pkg[field]) problems.push(`package.json has no "${field}"`);
  }
  const maps = walk(pkgDir).filter((f) => f.endsWith('.js.map'));
  if (maps.length === 0) problems.push('no source maps (expected one per .js file)');
  for (const map of maps) {
    const { sources = [], sourceRoot = '' } = JSON.parse(readFileSync(map, 'utf8'));
    for (const s of sources) {
      if (!existsSync(resolve(dirname(map), sourceRoot, s))) {
        problems.push(`${map.slice(pkgDir.length + 1)} names ${s}, which is not in the package`);
      }
    }
  }
  if (problems.length > 0) throw new CheckFailed(problems.slice(0, 10).join('\n'));
  return `${maps.length} source maps, each naming shipped sources; LICENSE, repository, homepage, bugs`;
}

/** Installs the tarball into a consumer app and builds the app with its own tsc. */
function prepareConsumer(name, tgz) {
  const dir = join(here, name);
  if (!existsSync(join(dir, 'package.json'))) throw new CheckFailed(`no consumer app at ${dir}`);
  const quiet = ['--no-audit', '--no-fund', '--loglevel=error'];
  run('npm', ['ci', ...quiet], dir);
  run('npm', ['install', '--no-save', ...quiet, tgz], dir);
  cpSync(join(here, 'checks.ts'), join(dir, 'src', 'checks.ts'));
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  run('npm', ['run', '--silent', 'build'], dir);
}

/** Boots the built consumer app on one Node; it runs the checks and closes. */
function bootConsumer(name, node) {
  const dir = join(here, name);
  const args = ['--enable-source-maps', 'dist/main.js'];
  const { out } = run(node, args, dir, BOOT_TIMEOUT_MS);
  if (!out.includes('ok: app closed'))
    throw new CheckFailed(`the app did not finish its checks\n${tail(out)}`);
  return out.trimEnd();
}

const tests = [];
function test(name, fn) {
  const started = Date.now();
  let status = 'passed';
  let detail;
  try {
    detail = fn();
  } catch (error) {
    status = 'failed';
    detail = error instanceof CheckFailed ? error.message : String(error?.stack ?? error);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  tests.push({ name, status, seconds: Number(seconds), detail });
  console.log(`${status === 'passed' ? 'PASS' : 'FAIL'} ${name} (${seconds} s)`);
  if (detail) console.log(detail.replace(/^/gm, '    '));
}

const tmp = mkdtempSync(join(tmpdir(), 'nest-worker-pool-pack-'));
let tgz;
test('npm pack', () => {
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', tmp], root).stdout);
  tgz = join(tmp, packed[0].filename);
  return `${packed[0].filename}: ${packed[0].entryCount} files, ${Math.round(packed[0].size / 1024)} kB`;
});
if (tgz) {
  test('package contents', () => checkTarball(tgz, tmp));
  for (const name of consumers) {
    let prepared;
    const started = Date.now();
    try {
      prepareConsumer(name, tgz);
      prepared = `installed and built in ${((Date.now() - started) / 1000).toFixed(1)} s`;
    } catch (error) {
      prepared = error;
    }
    const { scripts = {} } = JSON.parse(readFileSync(join(here, name, 'package.json'), 'utf8'));
    if (scripts.test) {
      test(`consumer ${name}: its own tests (npm test)`, () => {
        if (prepared instanceof Error) throw prepared;
        return tail(run('npm', ['test', '--silent'], join(here, name)).out, 8);
      });
    }
    for (const node of nodes) {
      const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout?.trim() || node;
      test(`consumer ${name} on Node ${version}`, () => {
        if (prepared instanceof Error) throw prepared;
        return `${prepared}\n${bootConsumer(name, node)}`;
      });
    }
  }
}
rmSync(tmp, { recursive: true, force: true });

const passed = tests.filter((t) => t.status === 'passed').length;
const failed = tests.length - passed;
if (jsonPath) writeFileSync(jsonPath, JSON.stringify({ passed, failed, tests }, null, 2));
console.log(`\nconsumers: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

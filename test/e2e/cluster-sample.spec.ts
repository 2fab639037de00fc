// `npm run sample:cluster` as a user runs it: the built launcher (dist/sample/cluster/main.js)
// starts 3 replicas of the sample app on this machine's PostgreSQL, posts conversations through
// all of them and prints a verdict. On Node 22+ it must end OK with every conversation in order;
// on an older Node it must refuse at once, saying what it needs, before loading cluster mode.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from '@jest/globals';
import { adminQuery, clusterSupported, describeCluster } from '../support/cluster.js';

const MAIN = fileURLToPath(new URL('../../dist/sample/cluster/main.js', import.meta.url));

function run(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describeCluster('npm run sample:cluster (e2e)', () => {
  it('runs the sample as 3 replicas: every message accepted and run once, in order; OK verdict', async () => {
    const database = `nwp_sample_e2e_${process.pid}`;
    try {
      const { code, out } = await run({
        SAMPLE_DATABASE: database,
        SAMPLE_CONVERSATIONS: '30',
        SAMPLE_MESSAGES: '6',
      });
      expect({ code, out }).toMatchObject({ code: 0 });
      expect(out).toContain(`database ${database}: created`);
      expect(out).toMatch(/replica 0 \(pid \d+\) listening on http:\/\/127\.0\.0\.1:\d+/);
      expect(out).toMatch(/replica 2 \(pid \d+\) listening/);
      // The demo conversation: one message per replica, each answered with its reply.
      expect(out).toMatch(/replica 1: POST \/conversations\/demo\/messages .* -> 201 .*"seq":1/);
      expect(out).toContain('180 sent, 180 accepted, 0 refused, 180 ran');
      expect(out).toContain('0 out-of-order starts');
      expect(out).toContain('0 overlapping runs');
      expect(out).toMatch(/"cluster":\{"queued":0,"active":0,.*"replicas":3,"status":"up"\}/);
      // Every message ran once, counted by the replicas that ran them.
      const ran = /#0 ran (\d+), #1 ran (\d+), #2 ran (\d+)/.exec(out)!;
      expect(
        ran
          .slice(1)
          .map(Number)
          .reduce((a, b) => a + b),
      ).toBe(183);
      // How many conversations crossed replicas is reported, not asserted: replicas pull work,
      // and the one that finishes a session's task often fetches its next (0 of 30 was seen).
      expect(out).toMatch(/spread: +\d+ of 30 conversations ran on more than one replica/);
      expect(out).toContain(
        'verdict:             OK: every conversation ran in order, one message at a time, across 3 replicas',
      );
    } finally {
      await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    }
  }, 180_000);
});

(clusterSupported ? it.skip : it)(
  'on Node < 22.12 the cluster sample says what it needs and exits 1 before it connects to anything',
  async () => {
    const { code, out } = await run({});
    expect(code).toBe(1);
    expect(out).toContain(
      `The cluster sample needs Node >= 22.12 (pg-boss 12 requires it); this is Node ${process.versions.node}.`,
    );
    expect(out).toContain('npm install --prefix /tmp/node22 node@22');
    expect(out).not.toContain('PostgreSQL');
  },
);

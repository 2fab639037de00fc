// What the packaging check asks of a booted app: a task through HTTP, /health up with the
// configured lanes, the autoscaler's cron job, a task in a worker thread, and a library stack trace whose source-mapped files exist on disk.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { INestApplication } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { Dispatcher, getDispatcherToken } from 'nest-worker-pool';

function assert(ok: unknown, what: string): asserts ok {
  if (!ok) throw new Error(`check failed: ${what}`);
}

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

export async function runChecks(app: INestApplication, expectedLanes: number): Promise<void> {
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');

  const echo = await getJson(`${url}/echo/s1/hello`);
  assert(echo.status === 200, `GET /echo answered ${echo.status}`);
  assert(
    echo.body.text === 'HELLO' && echo.body.session === 's1',
    `echo ${JSON.stringify(echo.body)}`,
  );
  console.log(`ok: a task submitted through HTTP ran -> ${JSON.stringify(echo.body)}`);

  const health = await getJson(`${url}/health`);
  const pool = health.body?.details?.workerPool;
  assert(
    health.status === 200 && health.body.status === 'ok',
    `/health ${JSON.stringify(health.body)}`,
  );
  assert(
    pool?.status === 'up' && pool.lanes === expectedLanes,
    `workerPool ${JSON.stringify(pool)}`,
  );
  console.log(`ok: /health is up with ${pool.lanes} lanes (POOL_LANES from config)`);

  // Under --enable-source-maps a library frame names the .ts file its map points at.
  const err = await app
    .get(Dispatcher)
    .submit('no-such-type', null)
    .then(
      () => null,
      (e: Error) => e,
    );
  assert(err?.name === 'UnknownTaskTypeError', `unknown type gave ${String(err)}`);
  const frames = (err.stack ?? '').split('\n').filter((l) => l.includes('nest-worker-pool'));
  const files = frames.map(
    (l) => /\(?((?:file:\/\/)?\/[^():]+\.[cm]?[jt]s):\d+:\d+\)?$/.exec(l)?.[1],
  );
  assert(files.length > 0 && files.every(Boolean), `library frames ${JSON.stringify(frames)}`);
  const paths = files.map((f) => (f!.startsWith('file:') ? fileURLToPath(f!) : f!));
  assert(
    paths.some((p) => p.endsWith('.ts')),
    `no frame was source-mapped: ${paths.join(', ')}`,
  );
  const missing = paths.filter((p) => !existsSync(p));
  assert(missing.length === 0, `stack names files that are not installed: ${missing.join(', ')}`);
  console.log(`ok: library stack frames map to installed sources (${paths[0]})`);

  const registry = app.get(SchedulerRegistry);
  assert(registry.doesExist('cron', 'nest-worker-pool:autoscale:default'), 'autoscale cron job');
  console.log('ok: the autoscaler runs on a cron job in SchedulerRegistry');

  const threadId = await app.get<Dispatcher>(getDispatcherToken('cpu')).submit('thread.id', null);
  assert(
    typeof threadId === 'number' && threadId > 0,
    `thread pool task ran on thread ${threadId}`,
  );
  console.log(`ok: the thread pool ran a task in worker thread ${threadId}`);

  await app.close();
  console.log('ok: app closed');
}

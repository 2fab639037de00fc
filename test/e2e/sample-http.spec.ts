import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Dispatcher } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { AuditHandlers } from '../../sample/chat/audit.handlers.js';
import { OrderLog } from '../../sample/chat/order-log.js';

describe('sample app over HTTP (e2e)', () => {
  let app: INestApplication;

  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterEach(() => app.close());

  it('processes the messages of one conversation in order and reports stats', async () => {
    const server = app.getHttpServer();
    const replies = await Promise.all(
      ['a', 'b', 'c', 'd'].map((text) =>
        request(server).post('/conversations/c1/messages').send({ text }).expect(201),
      ),
    );
    expect(replies.map((r) => r.body.seq).sort()).toEqual([0, 1, 2, 3]);
    expect(replies[0].body).toMatchObject({
      conversationId: 'c1',
      reply: expect.stringMatching(/^echo: /),
    });
    const log = app.get(OrderLog);
    expect(log.orderViolations).toBe(0);
    expect(log.overlapViolations).toBe(0);

    const stats = await request(server).get('/stats').expect(200);
    expect(stats.body).toMatchObject({ state: 'running' });
    expect(stats.body.types['chat.message']).toMatchObject({ accepted: 4, completed: 4 });
    // Each message also queued an audit row, written in bulk once the pool drains.
    expect(stats.body.types['audit.write']).toMatchObject({ accepted: 4 });
    await app.close();
    const audit = app.get(AuditHandlers);
    expect(audit).toMatchObject({ entries: 4, outOfOrder: 0 });
    // One conversation is one audit session, and a batch holds at most one task of a
    // session: each of its rows is a write of its own.
    expect(audit.writes).toBe(4);
  });

  it('serves the live view of both pools; the thread pool reports each lane thread and its heap', async () => {
    await app.listen(0, '127.0.0.1');
    const url = `${await app.getUrl()}/pool`;
    expect((await fetch(url)).status).toBe(200);
    const client = new AbortController();
    const res = await fetch(`${url}/events`, { signal: client.signal });
    const reader = res.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    while (!/^event: snapshot\n(?:.*\n)*?data: .*\n\n/m.test(text)) {
      const chunk = await reader.read();
      expect(chunk.done).toBe(false);
      text += decoder.decode(chunk.value, { stream: true });
    }
    client.abort();
    const data = /^event: snapshot\n(?:.*\n)*?data: (.*)\n\n/m.exec(text)![1];
    const snapshot = JSON.parse(data) as {
      pools: { name: string; stats: { threads?: { laneId: number; heapUsed: number }[] } }[];
    };
    expect(snapshot.pools.map((p) => p.name)).toEqual(['default', 'cpu']);
    expect(snapshot.pools[0].stats.threads).toBeUndefined();
    const threads = snapshot.pools[1].stats.threads!;
    expect(threads.map((t) => t.laneId)).toEqual([0, 1]);
    for (const t of threads) expect(t.heapUsed).toBeGreaterThan(0);
  });

  it('reports health through Terminus', async () => {
    const res = await request(app.getHttpServer()).get('/health').expect(200);
    expect(res.body).toMatchObject({
      status: 'ok',
      info: { workerPool: { status: 'up', state: 'running', lanes: 4 } },
    });
  });

  it('answers a bad body with 400 and a hint', async () => {
    const res = await request(app.getHttpServer())
      .post('/conversations/c1/messages')
      .send({})
      .expect(400);
    expect(res.body.message).toMatch(/\{"text": "hi"\}/);
  });

  it('keeps per-conversation order for many conversations while the pool resizes', async () => {
    const server = app.getHttpServer();
    const pool = app.get(Dispatcher);
    const work: Promise<unknown>[] = [];
    for (let m = 0; m < 5; m++) {
      for (let c = 0; c < 20; c++) {
        // then() sends the request now, so resizes happen while messages are in flight.
        work.push(
          request(server)
            .post(`/conversations/k${c}/messages`)
            .send({ text: `${m}` })
            .then((r) => r),
        );
      }
      await pool.resize(1 + (m % 4) * 3);
    }
    const responses = (await Promise.all(work)) as Array<{ status: number }>;
    expect(responses.every((r) => r.status === 201)).toBe(true);
    expect(app.get(OrderLog)).toMatchObject({ orderViolations: 0, overlapViolations: 0 });
    await app.close();
    // One conversation's 5 rows never share a write.
    const audit = app.get(AuditHandlers);
    expect(audit).toMatchObject({ entries: 100, outOfOrder: 0 });
    expect(audit.writes).toBeGreaterThanOrEqual(5);
  });
});

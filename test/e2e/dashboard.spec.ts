/// <reference lib="dom" />
import 'reflect-metadata';
import { jest } from '@jest/globals';
import { type INestApplication, Injectable } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import type { Browser, Page } from 'playwright-core';
import { WorkerPoolDashboardModule } from '../../lib/dashboard/index.js';
import {
  type AutoscaleInput,
  Autoscaler,
  Dispatcher,
  type TaskContext,
  TaskHandler,
  WorkerPoolModule,
  getDispatcherToken,
} from '../../lib/index.js';
import { launchChromium } from '../support/browser.js';
import { type Deferred, deferred } from '../support/deferred.js';

jest.setTimeout(90_000);

const gate: { hold: Deferred } = { hold: deferred() };
/** What the test's autoscale policy answers on the next tick. */
const policy = { desired: 2, reason: 'steady' };

@Injectable()
class Work {
  @TaskHandler('hold')
  hold(): Promise<void> {
    return gate.hold.promise;
  }

  @TaskHandler('chat')
  async chat(ms: number, ctx: TaskContext): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    if (ctx.sessionId === 'fails') throw new Error('bad message');
  }

  @TaskHandler('mail', { pool: 'mail' })
  mail(): void {}
}

@Module({
  imports: [
    ScheduleModule.forRoot(),
    WorkerPoolModule.forRoot({
      lanes: 2,
      maxLanes: 12,
      laneConcurrency: 2,
      // Busy sessions follow the ring to added lanes between two tasks.
      rebalance: 'between-tasks',
      drainTimeoutMs: 1_000,
      drainGraceMs: 500,
      autoscale: {
        min: 1,
        max: 12,
        history: 50,
        // Ticked by the test only (this expression fires once a year).
        cron: '0 0 0 1 1 *',
        policy: (input: AutoscaleInput) => ({
          desired: policy.desired,
          direction:
            policy.desired > input.lanes ? 'up' : policy.desired < input.lanes ? 'down' : 'hold',
          reason: policy.reason,
          inputs: {
            lanes: input.lanes,
            min: input.min,
            max: input.max,
            utilization: input.window.at(-1)?.utilization ?? 0,
            queuedPerLane: (input.window.at(-1)?.queued ?? 0) / input.lanes,
            oldestWaitMs: input.window.at(-1)?.oldestWaitMs ?? 0,
            samples: input.window.length,
          },
        }),
      },
    }),
    WorkerPoolModule.forRoot({ name: 'mail', lanes: 1 }),
    WorkerPoolDashboardModule.forRoot({ path: '/pool' }),
  ],
  providers: [Work],
})
class AppModule {}

describe('dashboard in a browser (e2e)', () => {
  let app: INestApplication;
  let url: string;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    app = await NestFactory.create(AppModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    url = `${await app.getUrl()}/pool`;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  });

  afterAll(async () => {
    gate.hold.resolve();
    await browser?.close();
    await app?.close();
  });

  it('shows the lanes of a pool under load, and the lanes added meanwhile, with no console error', async () => {
    const pool = app.get(Dispatcher);
    const load: Promise<unknown>[] = [];
    for (let s = 0; s < 40; s++)
      for (let n = 0; n < 3; n++) load.push(pool.submit('hold', n, { sessionId: `s${s}` }));
    const response = await page.goto(url);
    expect(response?.status()).toBe(200);
    const rows = () =>
      page
        .locator('#lanes tbody tr')
        .evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.lane));
    await page.waitForFunction(() => document.querySelectorAll('#lanes tbody tr').length === 2);
    expect(await rows()).toEqual(['0', '1']);
    // Under load: every lane has work, and the busiest stands out.
    await page.waitForFunction(() => document.querySelector('#lanes tbody tr.hot') !== null);
    expect(await page.textContent('#health')).toMatch(/up|degraded/);

    pool.addLane();
    pool.addLane();
    await page.waitForFunction(() => document.querySelectorAll('#lanes tbody tr').length === 4);
    expect(await rows()).toEqual(['0', '1', '2', '3']);
    // The lane events arrive on their own, ahead of the next snapshot.
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#events li')].some((li) =>
        li.textContent!.includes('lane #3 added'),
      ),
    );
    // Both pools are listed.
    expect(await page.locator('#pools button').allTextContents()).toEqual(['default', 'mail']);
    expect(problems).toEqual([]);
  });

  it('shows an autoscaler decision with its reason and inputs', async () => {
    const scaler = app.get(Autoscaler);
    policy.desired = 6;
    policy.reason = 'backlog of 30 queued per lane above 20';
    const record = scaler.tick();
    expect(record).toMatchObject({ applied: true, desired: 6 });
    await page.waitForFunction(() =>
      document.querySelector('#decisions li .reason')?.textContent?.includes('backlog of 30'),
    );
    const first = page.locator('#decisions li').first();
    expect(await first.locator('.dir').textContent()).toBe('up');
    expect(await first.textContent()).toContain('→ 6');
    expect(await first.locator('.inputs').textContent()).toMatch(/lanes=4 .*samples=/);
    expect(await page.textContent('#autoscale-state')).toMatch(/min 1 · max 12 · active/);
    await page.waitForFunction(() => document.querySelectorAll('#lanes tbody tr').length === 6);
    expect(problems).toEqual([]);
  });

  it('looks up a session: its lane, queued and running tasks', async () => {
    const pool = app.get(Dispatcher);
    const lane = pool.laneOf('s7');
    expect(lane).toBeDefined();
    await page.fill('#session-id', 's7');
    await page.click('#lookup button');
    await page.waitForFunction(() => document.querySelector('#session dd') !== null);
    const text = await page.textContent('#session');
    expect(text).toContain(`#${lane}`);
    const info = pool.sessionInfo('s7');
    expect(text).toContain(`queued${info.queued}`);
    expect(text).toContain(`running${info.running ? 'yes' : 'no'}`);
  });

  it('is read-only: an action request is refused with 403 and changes nothing', async () => {
    const scaler = app.get(Autoscaler);
    const status = await page.evaluate(async () => {
      const r = await fetch('pools/default/pause', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      return { status: r.status, body: (await r.json()) as { message: string } };
    });
    expect(status.status).toBe(403);
    expect(status.body.message).toMatch(/read-only.*actions: true/);
    expect(scaler.paused).toBe(false);
    const resize = await fetch(`${url}/pools/default/resize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ lanes: 1 }),
    });
    expect(resize.status).toBe(403);
    expect(await page.isHidden('#actions')).toBe(true);
    // The browser logs the refused request itself; that one error is this test's doing.
    expect(problems).toEqual([expect.stringMatching(/status of 403/)]);
    problems.length = 0;
  });

  it('fits a phone screen, and (UPDATE_SCREENSHOT=1) takes the README screenshot under a live load', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    await phone.goto(url);
    await phone.waitForFunction(() => document.querySelectorAll('#lanes tbody tr').length > 0);
    const overflow = await phone.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.close();
    if (process.env.UPDATE_SCREENSHOT !== '1') return;

    // A chat-like load for the picture: short tasks on many sessions, a few failures.
    gate.hold.resolve();
    const pool = app.get(Dispatcher);
    const mail = app.get<Dispatcher>(getDispatcherToken('mail'));
    let stop = false;
    const load = (async () => {
      for (let i = 0; !stop; i++) {
        for (let k = 0; k < 25; k++) {
          const s = i % 7 === 0 && k === 0 ? 'fails' : `user-${(i * 25 + k) % 300}`;
          void pool.submit('chat', 10 + ((i * k) % 50), { sessionId: s }).catch(() => undefined);
        }
        void mail.submit('mail', null);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const scaler = app.get(Autoscaler);
    const ticks = [
      [3, 'utilization 0.31 below 0.35 for 30 s'],
      [5, 'backlog of 26 queued per lane above 20'],
      [8, 'utilization 0.92 above 0.7 for 5 s'],
      [8, 'utilization 0.68 within target'],
    ] as const;
    for (const [desired, reason] of ticks) {
      await new Promise((r) => setTimeout(r, 3_000));
      policy.desired = desired;
      policy.reason = reason;
      scaler.tick();
    }
    await new Promise((r) => setTimeout(r, 3_000));
    await page.fill('#session-id', 'user-42');
    await page.click('#lookup button');
    await page.waitForTimeout(1_200);
    await page.screenshot({ path: 'docs/dashboard.png', fullPage: true });
    stop = true;
    await load;
    expect(problems).toEqual([]);
  });
});

import { jest } from '@jest/globals';
import type { MessageEvent } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { Dispatcher } from '../../lib/core/index.js';
import { SnapshotSource } from '../../lib/dashboard/snapshot-source.js';

// The cost of open pages, proven by structure rather than timing: whatever the number of
// viewers, the pool's stats() is read once per second, and task events are never built.
const internals = (pool: Dispatcher) =>
  pool as unknown as { outcomes: { publish(e: unknown): void; watched: boolean } };

describe('dashboard snapshot source: cost per viewer', () => {
  afterEach(() => jest.useRealTimers());

  function setup() {
    jest.useFakeTimers();
    const pools = ['default', 'mail'].map((name) => {
      const dispatcher = new Dispatcher({ lanes: 2 });
      dispatcher.registerHandler('t', (n: number) => n);
      dispatcher.start();
      return { name, dispatcher, autoscaler: null, stats: jest.spyOn(dispatcher, 'stats') };
    });
    return { pools, source: new SnapshotSource(() => pools) };
  }

  it('10 viewers over 60 s: one stats() read per pool per second, one serialized snapshot shared by all', async () => {
    const { pools, source } = setup();
    const seen: MessageEvent[][] = [];
    const subs: Subscription[] = [];
    for (let v = 0; v < 10; v++) {
      const got: MessageEvent[] = [];
      seen.push(got);
      subs.push(source.stream().subscribe((m) => got.push(m)));
      // Viewers arrive over the first second.
      await jest.advanceTimersByTimeAsync(100);
    }
    await jest.advanceTimersByTimeAsync(60_000);
    for (const p of pools) {
      // 61 ticks (at 0 s, 1 s, ... 60 s) however many viewers.
      expect(p.stats.mock.calls.length).toBeGreaterThanOrEqual(60);
      expect(p.stats.mock.calls.length).toBeLessThanOrEqual(62);
    }
    // Each viewer got every snapshot from its arrival on, and the very same string.
    const last = seen.map((got) => got.at(-1)!.data);
    expect(new Set(last).size).toBe(1);
    for (const got of seen) expect(got.length).toBeGreaterThanOrEqual(60);
    const snapshot = JSON.parse(last[0] as string) as { pools: { name: string }[] };
    expect(snapshot.pools.map((p) => p.name)).toEqual(['default', 'mail']);
    for (const s of subs) s.unsubscribe();
  });

  it('with no viewer left the timer stops: no stats() read, no event subscription', async () => {
    const { pools, source } = setup();
    const sub = source.stream().subscribe();
    await jest.advanceTimersByTimeAsync(5_000);
    sub.unsubscribe();
    const calls = pools[0].stats.mock.calls.length;
    await jest.advanceTimersByTimeAsync(60_000);
    expect(pools[0].stats.mock.calls.length).toBe(calls);
    expect(jest.getTimerCount()).toBe(0);
    for (const p of pools) expect(internals(p.dispatcher).outcomes.watched).toBe(false);
    // A viewer who comes back later gets a fresh snapshot, not the one left from before.
    const got: MessageEvent[] = [];
    source.stream().subscribe((m) => got.push(m));
    await jest.advanceTimersByTimeAsync(0);
    expect(got.map((m) => JSON.parse(m.data as string).at)).toEqual([Date.now()]);
  });

  it('relays lane events as they happen, and builds no per-task event while watched', async () => {
    const { pools, source } = setup();
    const got: MessageEvent[] = [];
    const sub = source.stream().subscribe((m) => got.push(m));
    const pool = pools[0].dispatcher;
    // Every event, per-task ones included, is built and handed to this one emitter.
    const publish = jest.spyOn(internals(pool).outcomes, 'publish');
    for (let i = 0; i < 100; i++) await pool.submit('t', i, { sessionId: `s${i % 10}` });
    pool.addLane();
    const events = got
      .filter((m) => m.type === 'pool-event')
      .map((m) => JSON.parse(m.data as string));
    expect(events).toEqual([
      { pool: 'default', at: expect.any(Number), event: { type: 'lane-added', laneId: 2 } },
    ]);
    expect(publish).toHaveBeenCalledTimes(1);
    sub.unsubscribe();
  });

  it('ends every open stream when the app shuts down', () => {
    const { source } = setup();
    let completed = 0;
    for (let v = 0; v < 3; v++) source.stream().subscribe({ complete: () => completed++ });
    source.onModuleDestroy();
    expect(completed).toBe(3);
    expect(jest.getTimerCount()).toBe(0);
  });
});

import { jest } from '@jest/globals';
import { Autoscaler } from '../../lib/autoscaler/autoscaler.js';
import { Dispatcher, InvalidOptionError } from '../../lib/core/index.js';
import { deferred, flush } from '../support/deferred.js';

afterEach(() => jest.useRealTimers());

describe('Autoscaler', () => {
  it('validates its options against the pool', () => {
    const pool = new Dispatcher({ lanes: 2, maxLanes: 8 });
    expect(() => new Autoscaler(pool, { min: 0, max: 4 })).toThrow(/autoscale.min/);
    expect(() => new Autoscaler(pool, { min: 3, max: 2 })).toThrow(
      /autoscale.max.*from autoscale.min \(3\) to maxLanes \(8\)/,
    );
    expect(() => new Autoscaler(pool, { min: 1, max: 9 })).toThrow(InvalidOptionError);
    expect(() => new Autoscaler(pool, { min: 1, max: 4, cron: '' })).toThrow(/autoscale.cron/);
    expect(() => new Autoscaler(pool, { min: 1, max: 4, policy: 5 as never })).toThrow(
      /autoscale.policy/,
    );
  });

  it('grows a saturated pool, records why, and shrinks it when idle; pause stops resizing', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 2, maxLanes: 8 });
    const gate = deferred();
    pool.registerHandler('hold', () => gate.promise);
    pool.start();
    const work = Array.from({ length: 200 }, (_, i) =>
      pool.submit('hold', i, { sessionId: `s${i}` }),
    );
    await flush();
    const seen: string[] = [];
    const scaler = new Autoscaler(pool, { min: 2, max: 6, history: 3 }, (d) =>
      seen.push(d.direction),
    );

    for (let t = 0; t <= 6_000; t += 1_000) {
      await jest.advanceTimersByTimeAsync(t === 0 ? 0 : 1_000);
      scaler.tick(t);
    }
    const up = scaler.decisions().at(-1)!;
    expect(up).toMatchObject({ direction: 'up', desired: 6, applied: true });
    expect(up.reason).toMatch(/utilization 1 above 0.7/);
    expect(up.inputs).toMatchObject({ lanes: 2, min: 2, max: 6 });
    expect(pool.stats().lanes.filter((l) => !l.retiring)).toHaveLength(6);
    expect(scaler.decisions()).toHaveLength(3);
    expect(pool.stats().autoscale).toMatchObject({
      paused: false,
      min: 2,
      max: 6,
      decisions: scaler.decisions(),
    });

    gate.resolve();
    await Promise.all(work);
    scaler.pause();
    for (let t = 7_000; t <= 40_000; t += 1_000) {
      await jest.advanceTimersByTimeAsync(1_000);
      scaler.tick(t);
    }
    expect(scaler.decisions().at(-1)).toMatchObject({ direction: 'down', applied: false });
    expect(pool.stats().lanes).toHaveLength(6);
    scaler.resume();
    await jest.advanceTimersByTimeAsync(1_000);
    expect(scaler.tick(41_000)).toMatchObject({ direction: 'down', desired: 4, applied: true });
    expect(seen.filter((d) => d === 'up')).toHaveLength(1);
  });
});

import {
  type AutoscaleInput,
  type PoolSample,
  defaultAutoscalePolicy,
} from '../../lib/autoscaler/autoscale-policy.js';

const policy = defaultAutoscalePolicy();

/** Samples every second from `from` to `to` (ms) with the given figures. */
function samples(from: number, to: number, s: Partial<PoolSample>): PoolSample[] {
  const out: PoolSample[] = [];
  for (let at = from; at <= to; at += 1_000) {
    out.push({ at, lanes: 4, utilization: 0.5, queued: 0, oldestWaitMs: 0, ...s });
  }
  return out;
}

function input(window: PoolSample[], over: Partial<AutoscaleInput> = {}): AutoscaleInput {
  return {
    now: window[window.length - 1]?.at ?? 0,
    lanes: 4,
    min: 2,
    max: 16,
    window,
    lastResizeAt: undefined,
    ...over,
  };
}

describe('defaultAutoscalePolicy', () => {
  it.each([
    ['steady load in band', samples(0, 40_000, { utilization: 0.5 }), 4, 'hold', /within bounds/],
    [
      'high utilization for 5 s',
      samples(0, 6_000, { utilization: 0.95 }),
      6,
      'up',
      /utilization 0.95 above 0.7/,
    ],
    [
      'high utilization for only 3 s',
      [...samples(0, 3_000, { utilization: 0.5 }), ...samples(4_000, 6_000, { utilization: 0.95 })],
      4,
      'hold',
      /within bounds/,
    ],
    [
      'backlog with idle-looking lanes',
      samples(0, 6_000, { utilization: 0.2, queued: 400 }),
      12,
      'up',
      /backlog \(100 queued per lane/,
    ],
    [
      'old waiting task',
      samples(0, 6_000, { utilization: 0.3, queued: 5, oldestWaitMs: 2_500 }),
      5,
      'up',
      /oldest 2500 ms/,
    ],
    [
      'low utilization for 30 s',
      samples(0, 31_000, { utilization: 0.1 }),
      2,
      'down',
      /below 0.35 for 30000 ms/,
    ],
    [
      'low utilization for 20 s only',
      samples(10_000, 31_000, { utilization: 0.1 }),
      4,
      'hold',
      /within bounds/,
    ],
    [
      'low utilization but a backlog',
      samples(0, 31_000, { utilization: 0.1, queued: 200 }),
      10,
      'up',
      /backlog/,
    ],
    ['no samples yet', [], 4, 'hold', /within bounds/],
  ])('%s -> %s lanes', (_name, window, desired, direction, reason) => {
    const d = policy(input(window as PoolSample[]));
    expect(d).toMatchObject({ desired, direction });
    expect(d.reason).toMatch(reason as RegExp);
  });

  it('bounds steps: at most maxStepUp up and maxStepDown down per decision', () => {
    expect(policy(input(samples(0, 6_000, { utilization: 1, queued: 10_000 }))).desired).toBe(12);
    const big = samples(0, 31_000, { utilization: 0.05, lanes: 12 });
    expect(policy(input(big, { lanes: 12 })).desired).toBe(10);
  });

  it('respects min and max, and pulls an out-of-range size back in', () => {
    expect(
      policy(input(samples(0, 6_000, { utilization: 1, queued: 1_000 }), { max: 5 })).desired,
    ).toBe(5);
    expect(
      policy(input(samples(0, 6_000, { utilization: 1 }), { lanes: 5, max: 5 })),
    ).toMatchObject({ desired: 5, direction: 'hold' });
    expect(policy(input(samples(0, 31_000, { utilization: 0 }), { min: 4 }))).toMatchObject({
      desired: 4,
      direction: 'hold',
    });
    expect(policy(input(samples(0, 1_000, {}), { lanes: 1, min: 2 }))).toMatchObject({
      desired: 2,
      reason: 'below min (2)',
    });
    expect(policy(input(samples(0, 1_000, {}), { lanes: 20, max: 16 }))).toMatchObject({
      desired: 16,
      reason: 'above max (16)',
    });
  });

  it('waits out the cooldowns after a resize', () => {
    const hot = samples(0, 10_000, { utilization: 0.95 });
    expect(policy(input(hot, { lastResizeAt: 7_000 }))).toMatchObject({
      desired: 4,
      reason: /scale-up cooldown/,
    });
    expect(policy(input(hot, { lastResizeAt: 5_000 })).direction).toBe('up');
    const cold = samples(0, 40_000, { utilization: 0.05 });
    expect(policy(input(cold, { lastResizeAt: 20_000 }))).toMatchObject({
      desired: 4,
      reason: /scale-down cooldown/,
    });
    expect(policy(input(cold, { lastResizeAt: 10_000 })).direction).toBe('down');
  });

  it('does not flap on a steady load: once it steps to the target it holds', () => {
    // A steady offered load of 2.4 busy lanes: utilization = 2.4 / lanes.
    let lanes = 2;
    let lastResizeAt: number | undefined;
    const window: PoolSample[] = [];
    const sizes: number[] = [];
    let changedAt = 0;
    for (let now = 0; now <= 300_000; now += 1_000) {
      window.push({
        at: now,
        lanes,
        utilization: Math.min(1, 2.4 / lanes),
        queued: 0,
        oldestWaitMs: 0,
      });
      while (window[0].at < now - 60_000) window.shift();
      const d = policy({ now, lanes, min: 1, max: 16, window, lastResizeAt });
      if (d.desired !== lanes) {
        lanes = d.desired;
        lastResizeAt = now;
        sizes.push(lanes);
        changedAt = now;
      }
    }
    // Saturated lanes hide demand (utilization caps at 1), so it climbs in two steps, then holds.
    expect(sizes).toEqual([3, 4]);
    expect(changedAt).toBeLessThan(20_000);
    expect(2.4 / lanes).toBeLessThanOrEqual(0.7);
    expect(2.4 / lanes).toBeGreaterThanOrEqual(0.35);
  });
});

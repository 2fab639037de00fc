import { jest } from '@jest/globals';
import { Dispatcher, type PoolEvent } from '../../lib/core/index.js';

afterEach(() => jest.useRealTimers());

const live = (pool: Dispatcher) => pool.stats().lanes.filter((l) => !l.retiring).length;

describe('staged start', () => {
  it('reaches full size in the configured steps, accepting work from the start', async () => {
    jest.useFakeTimers();
    const pool = new Dispatcher({ lanes: 7, stagedStart: { lanesPerStep: 3, delayMs: 1_000 } });
    const added: number[] = [];
    pool.events$.subscribe((e: PoolEvent) => e.type === 'lane-added' && added.push(e.laneId));
    pool.registerHandler('t', (n: number) => n);
    expect(live(pool)).toBe(3);
    pool.start();
    expect(pool.stats().state).toBe('starting');
    expect(pool.accepting).toBe(true);
    await expect(pool.submit('t', 1, { sessionId: 's' })).resolves.toBe(1);
    await jest.advanceTimersByTimeAsync(999);
    expect(live(pool)).toBe(3);
    await jest.advanceTimersByTimeAsync(1);
    expect(live(pool)).toBe(6);
    expect(pool.stats().state).toBe('starting');
    await jest.advanceTimersByTimeAsync(1_000);
    expect(live(pool)).toBe(7);
    expect(pool.stats().state).toBe('running');
    expect(added).toEqual([3, 4, 5, 6]);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('ends its steps on a resize or a drain, leaving no timer', async () => {
    jest.useFakeTimers();
    const a = new Dispatcher({ lanes: 8, stagedStart: { lanesPerStep: 2, delayMs: 100 } });
    a.start();
    await a.resize(4);
    expect(a.stats().state).toBe('running');
    await jest.advanceTimersByTimeAsync(1_000);
    expect(live(a)).toBe(4);

    const b = new Dispatcher({ lanes: 8, stagedStart: { lanesPerStep: 2, delayMs: 100 } });
    b.start();
    await b.drain();
    expect(live(b)).toBe(2);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('names bad steps', () => {
    expect(() => new Dispatcher({ stagedStart: { lanesPerStep: 0, delayMs: 10 } })).toThrow(
      /"stagedStart.lanesPerStep": got 0/,
    );
    expect(() => new Dispatcher({ stagedStart: { lanesPerStep: 1, delayMs: -1 } })).toThrow(
      /"stagedStart.delayMs"/,
    );
    expect(() => new Dispatcher({ stagedStart: { lanes: 1 } as never })).toThrow(
      /"stagedStart.lanes".*no such option/,
    );
  });
});

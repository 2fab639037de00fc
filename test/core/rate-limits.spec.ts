import { jest } from '@jest/globals';
import type { HandlerEntry } from '../../lib/core/handler-registry.js';
import { type Limitable, RateLimits } from '../../lib/core/rate-limits.js';
import { DEFAULT_TASK_POLICY } from '../../lib/core/task-policy.js';
import { Task, TaskState } from '../../lib/core/task.js';

afterEach(() => jest.useRealTimers());

const entry = (): HandlerEntry => ({
  type: 't',
  fn: () => undefined,
  origin: 'test',
  captures: false,
  selfWait: undefined,
  policy: DEFAULT_TASK_POLICY,
  counts: { accepted: 0, completed: 0, failed: 0, timedOut: 0, cancelled: 0 },
});

describe('RateLimits', () => {
  it('lets work through while both the type and the pool have tokens, then parks it', () => {
    jest.useFakeTimers();
    const unparked: Limitable[] = [];
    const limits = new RateLimits((item) => unparked.push(item));
    limits.pool = limits.create({ tasks: 2, intervalMs: 1_000 });
    const limited = entry();
    limited.limiter = limits.create({ tasks: 1, intervalMs: 1_000 });
    const free = entry();
    const [a, b, c] = [1, 2, 3].map(
      (id) => new Task(id, id === 2 ? limited : free, id, undefined, undefined),
    );
    expect(limits.holds(a, a)).toBe(false);
    expect(limits.holds(b, b)).toBe(false); // the type's only token, and the pool's last
    expect(limits.holds(c, c)).toBe(true); // the pool is empty
    expect(limits.parked).toBe(1);
    jest.advanceTimersByTime(500); // one pool token back
    expect(unparked).toEqual([c]);
  });

  it('counts only live parked work, and clears every limiter with its timer', () => {
    jest.useFakeTimers();
    const limits = new RateLimits(() => undefined);
    const t = entry();
    t.limiter = limits.create({ tasks: 1, intervalMs: 1_000 });
    const [a, b, c] = [1, 2, 3].map((id) => new Task(id, t, id, undefined, undefined));
    limits.holds(a, a);
    limits.holds(b, b);
    limits.holds(c, c);
    c.state = TaskState.Done; // withdrawn by its caller while parked
    expect(limits.parked).toBe(1);
    const cleared: Limitable[] = [];
    limits.clear((item) => cleared.push(item));
    expect(cleared).toEqual([b, c]);
    expect(limits.parked).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });
});

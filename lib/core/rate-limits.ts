import { now } from './load-meter.js';
import { type RateLimit, RateLimiter } from './rate-limiter.js';
import { Session } from './lanes/session.js';
import { Task, TaskState } from './task.js';

/** Work a rate limit can hold back: an unkeyed task, or a session (for its head task). */
export type Limitable = Session | Task;

/**
 * The pool's rate limiters (the pool-wide one and one per limited type): whether work may
 * start now, and where work they held back goes when tokens return (`unpark`).
 */
export class RateLimits {
  /** The pool-wide limit, if any; per-type ones hang on their handler entries. */
  pool: RateLimiter<Limitable> | undefined;
  private readonly all = new Set<RateLimiter<Limitable>>();

  constructor(private readonly unpark: (item: Limitable) => void) {}

  /** A limiter whose held-back work is handed to `unpark` when tokens return. */
  create(limit: RateLimit): RateLimiter<Limitable> {
    const limiter = new RateLimiter<Limitable>(limit, this.unpark);
    this.all.add(limiter);
    return limiter;
  }

  /** Parks `item` and says so if `task` (its next task) finds no token; else takes the tokens. */
  holds(task: Task, item: Limitable): boolean {
    const pool = this.pool;
    const own = task.handler.limiter as RateLimiter<Limitable> | undefined;
    if (pool === undefined && own === undefined) return false;
    const at = now();
    const empty =
      own !== undefined && !own.ready(at)
        ? own
        : pool !== undefined && !pool.ready(at)
          ? pool
          : undefined;
    if (empty !== undefined) {
      empty.park(item);
      return true;
    }
    own?.take();
    pool?.take();
    return false;
  }

  /** Work held back right now (queued all the same); withdrawn entries aside. */
  get parked(): number {
    let n = 0;
    const live = (item: Limitable) =>
      item instanceof Task ? item.state === TaskState.Queued : item.size > 0;
    for (const l of this.all) n += l.parked.count(live);
    return n;
  }

  /** Empties every limiter, handing each parked entry to `each`, and stops their timers. */
  clear(each: (item: Limitable) => void = () => undefined): void {
    for (const limiter of this.all) limiter.clear(each);
  }
}

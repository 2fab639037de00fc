import { Deque } from './deque.js';
import { InvalidOptionError } from './errors.js';
import { now } from './load-meter.js';

/** At most `tasks` starts per `intervalMs`, with bursts up to `tasks` (a token bucket). */
export interface RateLimit {
  tasks: number;
  intervalMs: number;
}

export function checkRateLimit(name: string, limit: unknown): RateLimit | undefined {
  if (limit === undefined) return undefined;
  const l = limit as RateLimit;
  const ok =
    l !== null &&
    typeof l === 'object' &&
    Number.isInteger(l.tasks) &&
    l.tasks >= 1 &&
    l.tasks <= Number.MAX_SAFE_INTEGER &&
    typeof l.intervalMs === 'number' &&
    l.intervalMs > 0 &&
    l.intervalMs < 2 ** 31 &&
    Object.keys(l).every((k) => k === 'tasks' || k === 'intervalMs');
  if (!ok)
    throw new InvalidOptionError(
      name,
      limit,
      'an object { tasks: integer >= 1, intervalMs: number > 0 } (tasks at most 2^53 - 1, intervalMs below 2^31)',
    );
  return { tasks: l.tasks, intervalMs: l.intervalMs };
}

/**
 * A token bucket with the work it holds back. Work that finds no token is parked here,
 * still queued (nothing is dropped), and handed back to `release` when tokens return.
 *
 * Invariant: while `parked` is not empty, exactly one timer is pending, set for when the
 * next token is due.
 */
export class RateLimiter<T> {
  private tokens: number;
  private last = now();
  private timer: NodeJS.Timeout | undefined;
  readonly parked = new Deque<T>();

  constructor(
    readonly limit: RateLimit,
    private readonly release: (item: T) => void,
  ) {
    this.tokens = limit.tasks;
  }

  /** True if a token is there (without taking it). */
  ready(at: number): boolean {
    this.refill(at);
    return this.tokens >= 1;
  }

  take(): void {
    this.tokens--;
  }

  park(item: T): void {
    this.parked.push(item);
    if (this.timer === undefined) this.schedule();
  }

  /** Drops every parked item (passing each to `each`) and the timer: the pool is shutting down. */
  clear(each: (item: T) => void): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.parked.drain(each);
  }

  private refill(at: number): void {
    const { tasks, intervalMs } = this.limit;
    this.tokens = Math.min(tasks, this.tokens + ((at - this.last) * tasks) / intervalMs);
    this.last = at;
  }

  /** Sets the timer for when a token is due, counting from `tokens` (those not yet promised). */
  private schedule(tokens = this.tokens): void {
    const { tasks, intervalMs } = this.limit;
    const wait = Math.max(1, Math.ceil(((1 - tokens) * intervalMs) / tasks));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refill(now());
      // Hand back as many as there are tokens; the rest wait for the next ones.
      let released = 0;
      const n = Math.max(1, Math.floor(this.tokens));
      while (released < n && this.parked.length > 0) {
        this.release(this.parked.shift()!);
        released++;
      }
      // What was handed back takes its tokens only when its lane picks it: the next timer
      // waits for a token beyond those, or the first in line would find none and go to the back.
      if (this.parked.length > 0 && this.timer === undefined) this.schedule(this.tokens - released);
    }, wait);
  }
}

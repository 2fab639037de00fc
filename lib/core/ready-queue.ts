import { Deque } from './deque.js';

/**
 * What an item of a lane's ready queue is. Each class answers with a getter on its
 * prototype: the hot path tells the three apart with one polymorphic load that folds to a
 * constant, where `instanceof` of an imported class walks the prototype chain (a failing
 * test, the common case, walks it to the end).
 */
export const enum ReadyKind {
  Session,
  Task,
  Batch,
}

/** Takes from higher priorities before a lower level waiting is served (the starvation bound). */
export const AGING_LIMIT = 16;

/**
 * A lane's ready work (sessions and unkeyed tasks), served by priority.
 *
 * Invariant: items of one level leave in FIFO order; the highest non-empty level is served,
 * except that after `AGING_LIMIT` takes from above while a lower level waits, the next take
 * comes from a lower level (lower levels take turns), so no priority starves. While every
 * item has priority 0 this is a single Deque and costs nothing more.
 */
export class ReadyQueue<T> {
  private readonly normal = new Deque<T>();
  /** Every level in use, highest first; undefined until a non-zero priority shows up. */
  private levels: Array<{ priority: number; queue: Deque<T> }> | undefined;
  private passed = 0;
  private rotor = 0;
  /** Entries that died in place since the last compaction (an upper bound: some may be gone). */
  private dead = 0;
  /** Entries, dead ones included. */
  length = 0;

  /**
   * An entry died in place (its task was withdrawn): once the dead may be half of all
   * entries, they are removed in one pass, so dead entries never outnumber live ones by more
   * than one and each costs O(1) amortized.
   */
  died(isDead: (item: T) => boolean): void {
    if (++this.dead * 2 <= this.length) return;
    this.dead = 0;
    this.length = 0;
    for (const { queue } of this.levels ?? [{ queue: this.normal }]) {
      queue.filter((item) => !isDead(item));
      this.length += queue.length;
    }
  }

  push(item: T, priority = 0): void {
    this.length++;
    if (this.levels === undefined && priority === 0) return this.normal.push(item);
    this.level(priority).push(item);
  }

  /** Puts an item back at the front of its level (it was taken from there and held back). */
  unshift(item: T, priority = 0): void {
    this.length++;
    if (this.levels === undefined && priority === 0) return this.normal.unshift(item);
    this.level(priority).unshift(item);
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    this.length--;
    if (this.levels === undefined) return this.normal.shift();
    let high = -1;
    let waitingBelow = 0;
    for (let i = 0; i < this.levels.length; i++) {
      if (this.levels[i].queue.length === 0) continue;
      if (high === -1) high = i;
      else waitingBelow++;
    }
    if (waitingBelow === 0 || ++this.passed <= AGING_LIMIT) return this.levels[high].queue.shift();
    this.passed = 0;
    // Lower levels take turns at the aged slot, so a middle level cannot starve either.
    const lower = this.levels.filter((l, i) => i > high && l.queue.length > 0);
    return lower[this.rotor++ % lower.length].queue.shift();
  }

  /** Removes every item, highest level first, passing each to `each`. */
  drain(each: (item: T) => void): void {
    for (const { queue } of this.levels ?? [{ queue: this.normal }]) queue.drain(each);
    this.length = 0;
  }

  /**
   * Removes the first item, highest level first, that satisfies `test` among the first
   * `limit` live items of its level; dead items met on the way are removed too (see Deque.take).
   */
  take<S extends T>(
    test: (item: T) => item is S,
    dead: (item: T) => boolean,
    limit: number,
  ): S | undefined {
    for (const { queue } of this.levels ?? [{ queue: this.normal }]) {
      const before = queue.length;
      const found = queue.take(test, dead, limit);
      this.length -= before - queue.length;
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** The first item, highest level first, that satisfies `test` (`index`: its place in its level). */
  find<S extends T>(test: (item: T, index: number) => item is S): S | undefined {
    for (const { queue } of this.levels ?? [{ queue: this.normal }]) {
      const found = queue.find(test);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  private level(priority: number): Deque<T> {
    const levels = (this.levels ??= [{ priority: 0, queue: this.normal }]);
    let i = 0;
    while (i < levels.length && levels[i].priority > priority) i++;
    if (i < levels.length && levels[i].priority === priority) return levels[i].queue;
    const queue = new Deque<T>();
    levels.splice(i, 0, { priority, queue });
    return queue;
  }
}

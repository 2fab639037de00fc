/**
 * Growable ring buffer: O(1) push / shift without Array#shift's copying.
 *
 * Invariant: `length` items live at indices head, head+1, ... (mod capacity), and the
 * capacity is a power of two so wrapping is a mask. Shifted slots are cleared so the
 * buffer never keeps a settled task alive.
 */
const SHRINK_ABOVE = 1024;

export class Deque<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private mask: number;
  length = 0;

  constructor() {
    this.buf = new Array(16);
    this.mask = 15;
  }

  push(item: T): void {
    if (this.length > this.mask) this.grow();
    this.buf[(this.head + this.length) & this.mask] = item;
    this.length++;
  }

  /** Puts an item back at the front. */
  unshift(item: T): void {
    if (this.length > this.mask) this.grow();
    this.head = (this.head - 1) & this.mask;
    this.buf[this.head] = item;
    this.length++;
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    if (--this.length === 0 && this.mask >= SHRINK_ABOVE) this.reset();
    return item;
  }

  peek(): T | undefined {
    return this.length === 0 ? undefined : this.buf[this.head];
  }

  /** The first item, from the front, that satisfies `test`. */
  find<S extends T>(test: (item: T, index: number) => item is S): S | undefined {
    for (let i = 0; i < this.length; i++) {
      const item = this.buf[(this.head + i) & this.mask] as T;
      if (test(item, i)) return item;
    }
    return undefined;
  }

  /**
   * Removes and returns the first item that satisfies `test` among the first `limit` items
   * that are not `dead`; the dead ones met on the way are removed too. O(items looked at):
   * the items in front of it move up one place each, so none is left behind as a tombstone.
   */
  take<S extends T>(
    test: (item: T) => item is S,
    dead: (item: T) => boolean,
    limit: number,
  ): S | undefined {
    let end = 0;
    let found = -1;
    for (let live = 0; end < this.length && live < limit; end++) {
      const item = this.buf[(this.head + end) & this.mask] as T;
      if (dead(item)) continue;
      if (test(item)) {
        found = end++;
        break;
      }
      live++;
    }
    // Close the gaps from the back, so the items kept stay in order at the end of the range.
    let taken: S | undefined;
    let to = end;
    for (let i = end - 1; i >= 0; i--) {
      const item = this.buf[(this.head + i) & this.mask] as T;
      if (i === found) taken = item as S;
      else if (!dead(item)) this.buf[(this.head + --to) & this.mask] = item;
    }
    for (let i = 0; i < to; i++) this.buf[(this.head + i) & this.mask] = undefined;
    this.head = (this.head + to) & this.mask;
    this.length -= to;
    if (this.length === 0 && this.mask >= SHRINK_ABOVE) this.reset();
    return taken;
  }

  /** Keeps only the items that satisfy `keep`, in order. O(length). */
  filter(keep: (item: T) => boolean): void {
    let to = 0;
    for (let i = 0; i < this.length; i++) {
      const item = this.buf[(this.head + i) & this.mask] as T;
      if (keep(item)) this.buf[(this.head + to++) & this.mask] = item;
    }
    for (let i = to; i < this.length; i++) this.buf[(this.head + i) & this.mask] = undefined;
    this.length = to;
    if (this.length === 0 && this.mask >= SHRINK_ABOVE) this.reset();
  }

  /** How many items satisfy `test`. */
  count(test: (item: T) => boolean): number {
    let n = 0;
    for (let i = 0; i < this.length; i++) if (test(this.buf[(this.head + i) & this.mask] as T)) n++;
    return n;
  }

  /** Removes every item, passing each (in order) to `each`. */
  drain(each: (item: T) => void): void {
    let item: T | undefined;
    while ((item = this.shift()) !== undefined) each(item);
  }

  // A burst must not pin its peak capacity forever: an emptied large buffer starts over.
  private reset(): void {
    this.buf = new Array(16);
    this.mask = 15;
    this.head = 0;
  }

  private grow(): void {
    const old = this.buf;
    const cap = old.length;
    const next = new Array<T | undefined>(cap * 2);
    for (let i = 0; i < this.length; i++) next[i] = old[(this.head + i) & this.mask];
    this.buf = next;
    this.head = 0;
    this.mask = cap * 2 - 1;
  }
}

import { hash32 } from './hash.js';

/**
 * Consistent-hash ring with virtual nodes: key -> lane id.
 *
 * Invariant: `points` is sorted ascending and `owners[i]` owns the arc that ends at
 * `points[i]`. Each lane contributes `virtualNodes` points derived from its id only, so
 * adding or removing one lane of N moves about 1/N of the keys and no others.
 */
/** Lane ids must stay below this (2^20) for the packed sort key to be exact. */
export const LANE_SPACE = 1 << 20;

export class HashRing {
  private points = new Uint32Array(0);
  private owners = new Int32Array(0);
  /**
   * `index[b]` is the first point whose top bits are `b` (or above): with about one point
   * per bucket, a lookup scans a step or two.
   */
  private index = new Uint32Array(2);
  private shift = 31;
  /** Each member's points, hashed once: resizing under load rebuilds without rehashing. */
  private readonly members = new Map<number, Uint32Array>();

  constructor(private readonly virtualNodes = 160) {}

  get size(): number {
    return this.members.size;
  }

  has(laneId: number): boolean {
    return this.members.has(laneId);
  }

  add(laneId: number): void {
    if (!Number.isInteger(laneId) || laneId < 0 || laneId >= LANE_SPACE) {
      throw new RangeError(`Lane ids must be integers from 0 to ${LANE_SPACE - 1}; got ${laneId}.`);
    }
    if (this.members.has(laneId)) return;
    const points = new Uint32Array(this.virtualNodes);
    for (let v = 0; v < points.length; v++) points[v] = hash32(`lane-${laneId}#${v}`);
    this.members.set(laneId, points);
    this.rebuild();
  }

  remove(laneId: number): void {
    if (this.members.delete(laneId)) this.rebuild();
  }

  /** Owner of `key`; -1 when the ring is empty. */
  lookup(key: string): number {
    const points = this.points;
    const n = points.length;
    if (n === 0) return -1;
    const h = hash32(key);
    // The bucket of h's top bits holds about one point: scan it instead of bisecting.
    const b = h >>> this.shift;
    let i = this.index[b];
    const end = this.index[b + 1];
    while (i < end && points[i] < h) i++;
    return this.owners[i === n ? 0 : i];
  }

  private rebuild(): void {
    // Pack (point, lane) into one exact float (point * 2^20 + lane, < 2^53) and sort the
    // typed array natively; ties between points then break by lane id, the same in every process.
    const keys = new Float64Array(this.members.size * this.virtualNodes);
    let k = 0;
    for (const [lane, points] of this.members) {
      for (let v = 0; v < points.length; v++) keys[k++] = points[v] * LANE_SPACE + lane;
    }
    keys.sort();
    this.points = new Uint32Array(keys.length);
    this.owners = new Int32Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const lane = keys[i] % LANE_SPACE;
      this.points[i] = (keys[i] - lane) / LANE_SPACE;
      this.owners[i] = lane;
    }
    const bits = Math.min(31, Math.max(1, Math.floor(Math.log2(keys.length + 1))));
    this.shift = 32 - bits;
    this.index = new Uint32Array((1 << bits) + 1);
    for (let b = 0, i = 0; b <= 1 << bits; b++) {
      const lower = b * 2 ** this.shift;
      while (i < keys.length && this.points[i] < lower) i++;
      this.index[b] = i;
    }
  }
}

import { InvalidOptionError } from './errors.js';
import { FNV_OFFSET, finish, fnv, hash32 } from './hash.js';
import { MAX_VIRTUAL_NODES } from './options.js';

/** Lane ids must stay below this (2^20). */
export const LANE_SPACE = 1 << 20;

/**
 * Consistent-hash ring with virtual nodes: key -> lane id.
 *
 * Invariant: once built, `points` is sorted ascending (equal points by lane id) and
 * `owners[i]` owns the arc that ends at `points[i]`. Each lane contributes `virtualNodes`
 * points derived from its id only, so adding or removing one lane of N moves about 1/N of
 * the keys and no others. Adding and removing only mark the ring stale; the next lookup
 * rebuilds it in O(points), so a resize by many lanes costs one rebuild, linear in the
 * lanes, not one sort per lane.
 */
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
  /** Members changed since the last build. */
  private stale = false;

  constructor(private readonly virtualNodes = 160) {
    if (!Number.isInteger(virtualNodes) || virtualNodes < 1 || virtualNodes > MAX_VIRTUAL_NODES) {
      throw new InvalidOptionError(
        'virtualNodes',
        virtualNodes,
        `an integer from 1 to ${MAX_VIRTUAL_NODES}`,
      );
    }
  }

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
    // hash32(`lane-${laneId}#${v}`), the common prefix hashed once.
    const prefix = fnv(FNV_OFFSET, `lane-${laneId}#`);
    const points = new Uint32Array(this.virtualNodes);
    for (let v = 0; v < points.length; v++) points[v] = finish(fnv(prefix, String(v)));
    this.members.set(laneId, points);
    this.stale = true;
  }

  remove(laneId: number): void {
    if (this.members.delete(laneId)) this.stale = true;
  }

  /** Owner of `key`; -1 when the ring is empty. */
  lookup(key: string): number {
    if (this.stale) this.rebuild();
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

  /**
   * The first lane `accept`s, asked in `key`'s preference order: its owner, then the owners
   * of the points after it, around the ring once (a lane may be asked more than once).
   * -1 when the ring is empty or no lane is accepted.
   */
  walk(key: string, accept: (laneId: number) => boolean): number {
    const first = this.lookup(key);
    if (first === -1 || accept(first)) return first;
    const points = this.points;
    const n = points.length;
    const h = hash32(key);
    const b = h >>> this.shift;
    let i = this.index[b];
    const end = this.index[b + 1];
    while (i < end && points[i] < h) i++;
    if (i === n) i = 0; // past the last point: the first owns it
    for (let step = 1; step < n; step++) {
      const owner = this.owners[(i + step) % n];
      if (owner !== first && accept(owner)) return owner;
    }
    return -1;
  }

  private rebuild(): void {
    this.stale = false;
    // Lanes in ascending id order: the sort below is stable, so equal points keep that order,
    // the same in every process.
    const lanes = [...this.members.keys()].sort((a, b) => a - b);
    const n = lanes.length * this.virtualNodes;
    let points = new Uint32Array(n);
    let owners = new Int32Array(n);
    let k = 0;
    for (const lane of lanes) {
      points.set(this.members.get(lane)!, k);
      owners.fill(lane, k, k + this.virtualNodes);
      k += this.virtualNodes;
    }
    // LSD radix sort, 16 bits a pass: two linear, stable passes (a comparison sort per added
    // lane made a resize to 256 lanes take seconds).
    let spare = new Uint32Array(n);
    let spareOwners = new Int32Array(n);
    const counts = new Uint32Array(1 << 16);
    for (let shift = 0; shift < 32; shift += 16) {
      counts.fill(0);
      for (let i = 0; i < n; i++) counts[(points[i] >>> shift) & 0xffff]++;
      for (let d = 0, sum = 0; d < counts.length; d++) {
        const c = counts[d];
        counts[d] = sum;
        sum += c;
      }
      for (let i = 0; i < n; i++) {
        const point = points[i];
        const at = counts[(point >>> shift) & 0xffff]++;
        spare[at] = point;
        spareOwners[at] = owners[i];
      }
      const p = points;
      points = spare;
      spare = p;
      const o = owners;
      owners = spareOwners;
      spareOwners = o;
    }
    this.points = points;
    this.owners = owners;
    // index[b]: the first point of bucket b (its top bits), counted over the sorted points.
    const bits = Math.min(31, Math.max(1, Math.floor(Math.log2(n + 1))));
    const buckets = 2 ** bits;
    const shift = (this.shift = 32 - bits);
    const index = new Uint32Array(buckets + 1);
    for (let i = 0; i < n; i++) index[(points[i] >>> shift) + 1]++;
    for (let b = 0; b < buckets; b++) index[b + 1] += index[b];
    this.index = index;
  }
}

import { finish, hash32 } from '../hash.js';

/** Lane ids must stay below this (2^20). */
export const LANE_SPACE = 1 << 20;

/**
 * Slots per lane while B is at most SLOTS_FOR_FINE_SHARES. Lanes own whole slots, so a
 * lane's share of the id space is off by at most one slot in this many (1.6%), well under the
 * random spread of 10,000 ids on 8 lanes.
 */
export const SLOTS_PER_LANE = 64;

/**
 * Past this many slots (2^20, 8 MB; 16,384 lanes at SLOTS_PER_LANE) a pool grows B only to
 * keep MIN_SLOTS_PER_LANE: 65,536 lanes then share 2^20 slots, 16 each (one slot is 6% of a
 * share, and a share there is a few ids unless the pool sees millions). A table of 2^22
 * slots took most of a second to allocate on a busy machine.
 */
export const SLOTS_FOR_FINE_SHARES = 1 << 20;

/** Fewest slots per lane at any size. */
export const MIN_SLOTS_PER_LANE = 16;

/** Slots of a new table: 8 lanes get 128 each, without growing. */
const MIN_SLOTS = 1_024;

/** Rehashed slots a preference walk tries before it sweeps the table (see `walk`). */
const PROBES_PER_LANE = 2;

/**
 * Where an idle session id goes: id -> one of B slots (the low bits of its hash) -> the lane
 * that owns the slot, as Redis Cluster's hash slots and Kafka's partitions do.
 *
 * Invariants:
 * - every slot is owned by a member (all slots are unowned, -1, when there are none), and
 *   the members' slot counts differ by at most one: shares equal to one slot (1/64 of a
 *   share up to 16,384 lanes), with no sampling noise of their own;
 * - adding a lane moves floor(B / (N + 1)) slots to it, taken one at a time from the lanes
 *   with the most; removing one gives each of its slots to a lane with the fewest. So an id
 *   moves only to the added lane or off the removed one, never between two other lanes;
 * - B is a power of two of at least SLOTS_PER_LANE slots per lane (MIN_SLOTS_PER_LANE past
 *   SLOTS_FOR_FINE_SHARES slots). It doubles when lanes outgrow it, slot s splitting into
 *   s and s + B with the same owner, so no id moves. It shrinks back to MIN_SLOTS only when
 *   one lane or none is left (halving would otherwise merge slots of different owners).
 * - a preference order (`walk`) is the home, then other members, each once.
 *
 * The table depends on the order lanes came and went in, not only on who the members are:
 * two tables given the same changes in the same order agree, which is all the engine needs
 * (one table per pool, which thread lanes ask rather than rebuild). Every change costs
 * O(slots moved), plus O(B) when B doubles; lookups are one hash and one array read.
 */
export class SlotTable {
  /**
   * Per slot, side by side (one cache line for both on a move): its owner (-1: none) and the
   * next slot of that owner's list (-1 ends it), so each lane's slots form a linked list.
   */
  private slot = new Int32Array(MIN_SLOTS * 2).fill(-1);
  private mask = MIN_SLOTS - 1;
  /**
   * Per lane id, side by side: the first of its slots, how many it owns (-1: not a member),
   * its index in its bucket of `byCount`, and the last walk that offered it.
   */
  private lane = new Int32Array(0);
  /** Members by slot count: taking from the most and giving to the fewest is O(1) a slot. */
  private byCount = new Map<number, number[]>();
  private fewest = 0;
  private most = 0;
  private members = 0;
  private walks = 0;

  get size(): number {
    return this.members;
  }

  /** Number of slots, B. */
  get slots(): number {
    return this.mask + 1;
  }

  has(laneId: number): boolean {
    return laneId >= 0 && laneId * L < this.lane.length && this.lane[laneId * L + COUNT] >= 0;
  }

  /** Slots `laneId` owns (0 when not a member). */
  slotsOf(laneId: number): number {
    return this.has(laneId) ? this.lane[laneId * L + COUNT] : 0;
  }

  add(laneId: number): void {
    if (!Number.isInteger(laneId) || laneId < 0 || laneId >= LANE_SPACE) {
      throw new RangeError(`Lane ids must be integers from 0 to ${LANE_SPACE - 1}; got ${laneId}.`);
    }
    if (this.has(laneId)) return;
    this.reserve(laneId + 1);
    while (this.slots < slotsFor(this.members + 1)) this.split();
    const slots = this.slots;
    if (this.members === 0) return this.solo(laneId);
    const slot = this.slot;
    const lane = this.lane;
    const me = laneId * L;
    const take = Math.floor(slots / (this.members + 1));
    let head = -1;
    // Donors: the lanes with the most slots, last in their bucket first; each gives one and
    // moves down a bucket, so after `take` slots the old lanes differ by at most one.
    for (let given = 0; given < take;) {
      const c = this.most;
      const from = this.byCount.get(c)!;
      const to = this.bucket(c - 1);
      while (given < take && from.length > 0) {
        const id = from.pop()!;
        const donor = id * L;
        const s = lane[donor + HEAD];
        lane[donor + HEAD] = slot[s * 2 + 1];
        lane[donor + COUNT] = c - 1;
        lane[donor + POS] = to.length;
        to.push(id);
        slot[s * 2] = laneId;
        slot[s * 2 + 1] = head;
        head = s;
        given++;
      }
      if (from.length === 0) {
        this.byCount.delete(c);
        this.most = c - 1;
      }
      if (c - 1 < this.fewest) this.fewest = c - 1;
    }
    lane[me + HEAD] = head;
    this.enter(laneId, take);
  }

  remove(laneId: number): void {
    if (!this.has(laneId)) return;
    this.leave(laneId);
    const slot = this.slot;
    const lane = this.lane;
    let s = lane[laneId * L + HEAD];
    lane[laneId * L + HEAD] = -1;
    if (this.members === 0) {
      this.slot = new Int32Array(MIN_SLOTS * 2).fill(-1);
      this.mask = MIN_SLOTS - 1;
      return;
    }
    if (this.members === 1) {
      // One lane owns every slot whatever B is, so B can start over without moving an id:
      // growing again from one lane then costs what it cost the first time.
      const only: number = this.byCount.values().next().value![0];
      this.leave(only);
      return this.solo(only);
    }
    // Its slots go one at a time to the lanes with the fewest.
    while (s !== -1) {
      const c = this.fewest;
      const from = this.byCount.get(c)!;
      const to = this.bucket(c + 1);
      while (s !== -1 && from.length > 0) {
        const id = from.pop()!;
        const taker = id * L;
        const after = slot[s * 2 + 1];
        slot[s * 2] = id;
        slot[s * 2 + 1] = lane[taker + HEAD];
        lane[taker + HEAD] = s;
        lane[taker + COUNT] = c + 1;
        lane[taker + POS] = to.length;
        to.push(id);
        s = after;
      }
      if (from.length === 0) {
        this.byCount.delete(c);
        this.fewest = c + 1;
      }
      if (c + 1 > this.most) this.most = c + 1;
    }
  }

  /** Home of `key`: the owner of its slot; -1 with no lanes. */
  lookup(key: string): number {
    return this.slot[(hash32(key) & this.mask) * 2];
  }

  /**
   * The first lane `accept`s in `key`'s preference order, each member asked at most once;
   * -1 when there are no lanes or none is accepted. The order: its home, then the owners of
   * rehashed slots (PROBES_PER_LANE x N of them, as likely to name any lane as the home is),
   * then a sweep of the table from its slot, which completes the order with every member.
   * `accept` must not walk this table itself.
   */
  walk(key: string, accept: (laneId: number) => boolean): number {
    const h = hash32(key);
    const slot = this.slot;
    const mask = this.mask;
    const first = slot[(h & mask) * 2];
    if (first === -1 || accept(first)) return first;
    const lane = this.lane;
    let walk = ++this.walks;
    if (walk === 0x7fffffff) {
      for (let i = SEEN; i < lane.length; i += L) lane[i] = 0;
      walk = this.walks = 1;
    }
    lane[first * L + SEEN] = walk;
    let offered = 1;
    const members = this.members;
    const probes = Math.min(PROBES_PER_LANE * members, mask + 1);
    for (let i = 1; i <= probes && offered < members; i++) {
      const id = slot[(probe(h, i) & mask) * 2];
      if (lane[id * L + SEEN] === walk) continue;
      lane[id * L + SEEN] = walk;
      offered++;
      if (accept(id)) return id;
    }
    for (let i = 1; i <= mask && offered < members; i++) {
      const id = slot[((h + i) & mask) * 2];
      if (lane[id * L + SEEN] === walk) continue;
      lane[id * L + SEEN] = walk;
      offered++;
      if (accept(id)) return id;
    }
    return -1;
  }

  /** `key`'s whole preference order: every member once, its home first. */
  preference(key: string): number[] {
    const order: number[] = [];
    this.walk(key, (lane) => {
      order.push(lane);
      return false;
    });
    return order;
  }

  /** `laneId` alone: it owns the MIN_SLOTS slots of a new table. */
  private solo(laneId: number): void {
    const slot = (this.slot = new Int32Array(MIN_SLOTS * 2));
    this.mask = MIN_SLOTS - 1;
    for (let s = 0; s < MIN_SLOTS; s++) {
      slot[s * 2] = laneId;
      slot[s * 2 + 1] = s + 1;
    }
    slot[MIN_SLOTS * 2 - 1] = -1;
    this.lane[laneId * L + HEAD] = 0;
    this.enter(laneId, MIN_SLOTS);
  }

  /** Doubles B: slot s becomes s and s + B, both kept by its owner, so no id moves. */
  private split(): void {
    const slots = this.slots;
    // The new half is written below (or, with no members, left unowned): no fill.
    const slot = new Int32Array(slots * 4);
    slot.set(this.slot);
    if (this.members === 0) slot.fill(-1, slots * 2);
    else {
      const lane = this.lane;
      // s + B joins its owner's list right after s: one pass in slot order, no lane touched.
      for (let s = 0; s < slots; s++) {
        const t = s + slots;
        slot[t * 2] = slot[s * 2];
        slot[t * 2 + 1] = slot[s * 2 + 1];
        slot[s * 2 + 1] = t;
      }
      const byCount = new Map<number, number[]>();
      for (const [c, lanes] of this.byCount) {
        byCount.set(c * 2, lanes);
        for (const id of lanes) lane[id * L + COUNT] = c * 2;
      }
      this.byCount = byCount;
      this.fewest *= 2;
      this.most *= 2;
    }
    this.slot = slot;
    this.mask = slots * 2 - 1;
  }

  /** Per-lane records cover lane ids below `n`. */
  private reserve(n: number): void {
    if (n * L <= this.lane.length) return;
    const ids = Math.min(LANE_SPACE, Math.max(64, (this.lane.length / L) * 2, n));
    const lane = new Int32Array(ids * L);
    for (let i = 0; i < ids * L; i += L) {
      lane[i + HEAD] = -1;
      lane[i + COUNT] = -1;
    }
    lane.set(this.lane);
    this.lane = lane;
  }

  private bucket(c: number): number[] {
    let lanes = this.byCount.get(c);
    if (lanes === undefined) this.byCount.set(c, (lanes = []));
    return lanes;
  }

  private enter(laneId: number, slots: number): void {
    const to = this.bucket(slots);
    this.lane[laneId * L + COUNT] = slots;
    this.lane[laneId * L + POS] = to.length;
    to.push(laneId);
    this.members++;
    if (this.members === 1) this.fewest = this.most = slots;
    else {
      if (slots < this.fewest) this.fewest = slots;
      if (slots > this.most) this.most = slots;
    }
  }

  private leave(laneId: number): void {
    const lane = this.lane;
    const c = lane[laneId * L + COUNT];
    const at = lane[laneId * L + POS];
    const from = this.byCount.get(c)!;
    const last = from.pop()!;
    if (last !== laneId) {
      from[at] = last;
      lane[last * L + POS] = at;
    }
    lane[laneId * L + COUNT] = -1;
    this.members--;
    if (from.length > 0) return;
    this.byCount.delete(c);
    if (this.members === 0) return;
    // Counts span at most three values (two, but for the moment a split doubles them).
    while (!this.byCount.has(this.fewest)) this.fewest++;
    while (!this.byCount.has(this.most)) this.most--;
  }
}

/** Fields of a lane's record in `SlotTable.lane`, L of them. */
const HEAD = 0;
const COUNT = 1;
const POS = 2;
const SEEN = 3;
const L = 4;

/** Slots a table of `lanes` lanes needs at least. */
function slotsFor(lanes: number): number {
  return Math.max(
    lanes * MIN_SLOTS_PER_LANE,
    Math.min(lanes * SLOTS_PER_LANE, SLOTS_FOR_FINE_SHARES),
  );
}

/** The i-th rehash of `h`: murmur3's finalizer over h + i x the golden ratio. */
function probe(h: number, i: number): number {
  return finish((h + Math.imul(i, 0x9e3779b9)) | 0);
}

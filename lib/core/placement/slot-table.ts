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
 * `addAll` adds many lanes at once and yields the table their adds one by one would.
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
   * its index in the stack of its count (see `stacks`), and the last walk that offered it.
   */
  private lane = new Int32Array(0);
  /**
   * Members by slot count, a stack per count: taking from the most and giving to the fewest
   * is O(1) a slot. Counts span at most three values at once (two, but while an add follows a
   * split that doubled them), so count c has the stack `stacks[c & 3]`, `depths[c & 3]` deep.
   */
  private stacks: Int32Array[] = [0, 1, 2, 3].map(() => new Int32Array(0));
  private readonly depths = new Int32Array(4);
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
    checkLaneId(laneId);
    if (this.has(laneId)) return;
    this.reserve(laneId + 1);
    while (this.slots < slotsFor(this.members + 1)) this.split();
    if (this.members === 0) return this.solo(laneId);
    const slot = this.slot;
    const lane = this.lane;
    const take = Math.floor(this.slots / (this.members + 1));
    let head = -1;
    // Each donor gives the first slot of its list; the new lane's list is the reverse of
    // the order it received them in.
    for (let given = 0; given < take; given++) {
      const donor = this.donor() * L;
      const s = lane[donor + HEAD];
      lane[donor + HEAD] = slot[s * 2 + 1];
      slot[s * 2] = laneId;
      slot[s * 2 + 1] = head;
      head = s;
    }
    lane[laneId * L + HEAD] = head;
    this.enter(laneId, take);
  }

  /**
   * Adds the lanes in order (members and repeats skipped): the same table as `add` of each
   * in turn, but with no slot moved one at a time when many are added (see `build`). A bad
   * id throws before any lane is added.
   */
  addAll(laneIds: readonly number[]): void {
    let top = -1;
    for (const id of laneIds) top = Math.max(top, checkLaneId(id));
    if (top < 0) return;
    this.reserve(top + 1);
    const fresh: number[] = [];
    const queued = new Uint8Array(top + 1);
    for (const id of laneIds) {
      if (this.has(id) || queued[id] === 1) continue;
      queued[id] = 1;
      fresh.push(id);
    }
    // `build` reads and writes every list once (O(B), a random access a slot): worth it
    // when the adds move many times B slots, each a random access when added one by one.
    if (moves(this.members, this.slots, fresh.length) < BULK_MOVES_PER_SLOT * this.slots) {
      for (const id of fresh) this.add(id);
      return;
    }
    let i = 0;
    if (this.members === 0) this.solo(fresh[i++]);
    if (i < fresh.length) this.build(fresh, i);
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
      const k = this.depths.findIndex((depth) => depth > 0);
      const only = this.stacks[k][0];
      this.leave(only);
      return this.solo(only);
    }
    // Its slots go one at a time to the lanes with the fewest.
    while (s !== -1) {
      const id = this.taker();
      const taker = id * L;
      const after = slot[s * 2 + 1];
      slot[s * 2] = id;
      slot[s * 2 + 1] = lane[taker + HEAD];
      lane[taker + HEAD] = s;
      s = after;
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
      // s + B joins its owner's list right after s: one pass in slot order, no lane touched.
      for (let s = 0; s < slots; s++) {
        const t = s + slots;
        slot[t * 2] = slot[s * 2];
        slot[t * 2 + 1] = slot[s * 2 + 1];
        slot[s * 2 + 1] = t;
      }
      this.doubleCounts();
    }
    this.slot = slot;
    this.mask = slots * 2 - 1;
  }

  /** Every member's count doubles (B did); the stacks keep their order. */
  private doubleCounts(): void {
    const lane = this.lane;
    const stacks = this.stacks.slice();
    const depths = this.depths.slice();
    this.depths.fill(0);
    const spare: Int32Array[] = [];
    for (let k = 0; k < 4; k++) if (depths[k] === 0) spare.push(stacks[k]);
    // Before an add the counts span at most two values, c and c + 1: (2c) & 3 and (2c + 2) & 3 differ.
    for (let c = this.fewest; c <= this.most; c++) {
      const k = c & 3;
      const depth = depths[k];
      if (depth === 0) continue;
      const members = stacks[k];
      for (let i = 0; i < depth; i++) lane[members[i] * L + COUNT] = c * 2;
      this.stacks[(c * 2) & 3] = members;
      this.depths[(c * 2) & 3] = depth;
    }
    for (let k = 0; k < 4; k++) if (this.depths[k] === 0) this.stacks[k] = spare.pop()!;
    this.fewest *= 2;
    this.most *= 2;
  }

  /** Per-lane records (and the stacks) cover lane ids below `n`. */
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
    this.stacks = this.stacks.map((members) => {
      const grown = new Int32Array(ids);
      grown.set(members);
      return grown;
    });
  }

  /**
   * The next lane to give a slot to a lane being added: the last of those with the most. It
   * moves to the end of the stack one below, so after floor(B / (N + 1)) slots the old lanes
   * differ by at most one.
   */
  private donor(): number {
    const c = this.most;
    const k = c & 3;
    const below = (c - 1) & 3;
    const depths = this.depths;
    const id = this.stacks[k][--depths[k]];
    this.lane[id * L + COUNT] = c - 1;
    this.lane[id * L + POS] = depths[below];
    this.stacks[below][depths[below]++] = id;
    if (depths[k] === 0) this.most = c - 1;
    if (c - 1 < this.fewest) this.fewest = c - 1;
    return id;
  }

  /** The next lane to take a slot of a lane removed: the last of those with the fewest. */
  private taker(): number {
    const c = this.fewest;
    const k = c & 3;
    const above = (c + 1) & 3;
    const depths = this.depths;
    const id = this.stacks[k][--depths[k]];
    this.lane[id * L + COUNT] = c + 1;
    this.lane[id * L + POS] = depths[above];
    this.stacks[above][depths[above]++] = id;
    if (depths[k] === 0) this.fewest = c + 1;
    if (c + 1 > this.most) this.most = c + 1;
    return id;
  }

  private enter(laneId: number, slots: number): void {
    const k = slots & 3;
    this.lane[laneId * L + COUNT] = slots;
    this.lane[laneId * L + POS] = this.depths[k];
    this.stacks[k][this.depths[k]++] = laneId;
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
    const k = c & 3;
    const members = this.stacks[k];
    const last = members[--this.depths[k]];
    if (last !== laneId) {
      members[at] = last;
      lane[last * L + POS] = at;
    }
    lane[laneId * L + COUNT] = -1;
    this.members--;
    if (this.depths[k] > 0 || this.members === 0) return;
    // Counts span at most three values (two, but for the moment a split doubles them).
    while (this.depths[this.fewest & 3] === 0) this.fewest++;
    while (this.depths[this.most & 3] === 0) this.most--;
  }

  /**
   * Adds `fresh[from..]` (new ids, the table not empty) as `add` would, one after another,
   * without touching a slot per move. Each lane's list is a stack while lanes are only added:
   * a donor gives its first slot, a new lane's list is what it received, last first. So the
   * lists are read once into segments of one array (`pool`, first slot on top), the donations
   * pop and push there (the same donors, from the same stacks of counts, as `add`), a split
   * doubles each segment as `split` doubles each list, and the slots are written once at the
   * end: O(B + slots moved), where a move is bookkeeping on small arrays and one read of the
   * slot given (see `resolve`), not the read and write of a slot at a random place of `add`.
   */
  private build(fresh: readonly number[], from: number): void {
    const lane = this.lane;
    const start = new Int32Array(lane.length / L);
    const length = new Int32Array(lane.length / L);
    let slots = this.slots;
    let pool = this.readLists(
      start,
      length,
      slots,
      takes(this.members, slots, fresh.length - from),
    );
    let free = slots;
    for (let i = from; i < fresh.length; i++) {
      const laneId = fresh[i];
      if (slots < slotsFor(this.members + 1)) {
        resolve(pool, slots, free);
        this.doubleCounts();
        slots *= 2;
        const room = slots + takes(this.members, slots, fresh.length - i);
        pool = doubleSegments(pool, room, this.stacks, this.depths, start, length, slots / 2);
        free = slots;
      }
      const take = Math.floor(slots / (this.members + 1));
      this.donate(pool, free, take, start, length);
      start[laneId] = free;
      length[laneId] = take;
      free += take;
      this.enter(laneId, take);
    }
    resolve(pool, slots, free);
    this.writeLists(pool, start, length, slots);
    this.restamp();
  }

  /**
   * `take` slots for a lane being built, from the donors of `add`, a run at a time from the
   * stack of the most to the one below (counts and places in the stacks are written once, at
   * the end). What each gives is its top entry; where that sits is enough for now (see
   * `resolve`). A method of its own, called once a lane: a loop run once is never optimized.
   */
  private donate(
    pool: Int32Array,
    at: number,
    take: number,
    start: Int32Array,
    length: Int32Array,
  ): void {
    const { stacks, depths } = this;
    for (let given = 0; given < take;) {
      const c = this.most;
      const from = stacks[c & 3];
      const to = stacks[(c - 1) & 3];
      let f = depths[c & 3];
      let t = depths[(c - 1) & 3];
      const end = Math.min(take, given + f);
      while (given < end) {
        const donor = from[--f];
        to[t++] = donor;
        pool[at + given++] = start[donor] + --length[donor];
      }
      depths[c & 3] = f;
      depths[(c - 1) & 3] = t;
      if (f === 0) this.most = c - 1;
      if (c - 1 < this.fewest) this.fewest = c - 1;
    }
  }

  /** Each member's count and place in its stack, from the stacks. */
  private restamp(): void {
    const lane = this.lane;
    for (let c = this.fewest; c <= this.most; c++) {
      const members = this.stacks[c & 3];
      for (let i = 0; i < this.depths[c & 3]; i++) {
        lane[members[i] * L + COUNT] = c;
        lane[members[i] * L + POS] = i;
      }
    }
  }

  /** Every member's list into a new pool (its first slot last), with `room` entries to spare. */
  private readLists(
    start: Int32Array,
    length: Int32Array,
    slots: number,
    room: number,
  ): Int32Array {
    const pool = new Int32Array(slots + room);
    const slot = this.slot;
    let at = 0;
    this.eachMember((id) => {
      const n = this.lane[id * L + COUNT];
      start[id] = at;
      length[id] = n;
      for (let s = this.lane[id * L + HEAD], j = at + n - 1; s !== -1; s = slot[s * 2 + 1]) {
        pool[j--] = s;
      }
      at += n;
    });
    return pool;
  }

  /** The members' segments become their lists: owners and links of all `slots` slots. */
  private writeLists(pool: Int32Array, start: Int32Array, length: Int32Array, slots: number): void {
    const slot = slots === this.slots ? this.slot : new Int32Array(slots * 2);
    const lane = this.lane;
    this.eachMember((id) => {
      const first = start[id];
      const n = length[id];
      let next = -1;
      for (let j = first; j < first + n; j++) {
        const s = pool[j];
        slot[s * 2] = id;
        slot[s * 2 + 1] = next;
        next = s;
      }
      lane[id * L + HEAD] = next;
    });
    this.slot = slot;
    this.mask = slots - 1;
  }

  private eachMember(visit: (laneId: number) => void): void {
    for (let k = 0; k < 4; k++) {
      const members = this.stacks[k];
      for (let i = 0; i < this.depths[k]; i++) visit(members[i]);
    }
  }
}

/** Fields of a lane's record in `SlotTable.lane`, L of them. */
const HEAD = 0;
const COUNT = 1;
const POS = 2;
const SEEN = 3;
const L = 4;

/**
 * `addAll` builds the table in one go when its adds move at least this many times B slots
 * (a pool of 65,536 lanes: 2,800 B; 4,096 -> 65,536 lanes: 9.6 B; 16,384 -> 65,536: 1.4 B,
 * where `build` took 1.6 times as long as adding one by one).
 */
const BULK_MOVES_PER_SLOT = 4;

function checkLaneId(laneId: number): number {
  if (!Number.isInteger(laneId) || laneId < 0 || laneId >= LANE_SPACE) {
    throw new RangeError(`Lane ids must be integers from 0 to ${LANE_SPACE - 1}; got ${laneId}.`);
  }
  return laneId;
}

/** Slots moved by `adds` lanes joining `members` that share `slots` (B doubling as it must). */
function moves(members: number, slots: number, adds: number): number {
  let moved = 0;
  for (let m = members; m < members + adds; m++) {
    if (m === 0)
      slots = MIN_SLOTS; // the first lane takes a new table: no move
    else {
      while (slots < slotsFor(m + 1)) slots *= 2;
      moved += Math.floor(slots / (m + 1));
    }
  }
  return moved;
}

/** Slots moved by up to `adds` lanes joining `members` while B stays `slots`. */
function takes(members: number, slots: number, adds: number): number {
  let moved = 0;
  for (let m = members; m < members + adds && slotsFor(m + 1) <= slots; m++) {
    moved += Math.floor(slots / (m + 1));
  }
  return moved;
}

/**
 * Entries from `from` to `to` of `pool` hold the place of the entry they were given (always
 * before them: a donor was added before its taker); each takes that entry's slot, in order.
 */
function resolve(pool: Int32Array, from: number, to: number): void {
  for (let at = from; at < to; at++) pool[at] = pool[pool[at]];
}

/**
 * `split` on segments: a list s1, s2, ... becomes s1, s1 + B, s2, s2 + B, ...; stored first
 * slot last, segment [.., s2, s1] becomes [.., s2 + B, s2, s1 + B, s1]. Returns a pool of
 * `room` entries holding the members' doubled segments, packed from 0.
 */
function doubleSegments(
  pool: Int32Array,
  room: number,
  stacks: readonly Int32Array[],
  depths: Int32Array,
  start: Int32Array,
  length: Int32Array,
  half: number,
): Int32Array {
  const doubled = new Int32Array(room);
  let at = 0;
  for (let k = 0; k < 4; k++) {
    for (let i = 0; i < depths[k]; i++) {
      const id = stacks[k][i];
      const first = start[id];
      const n = length[id];
      start[id] = at;
      length[id] = n * 2;
      for (let j = first; j < first + n; j++) {
        doubled[at++] = pool[j] + half;
        doubled[at++] = pool[j];
      }
    }
  }
  return doubled;
}

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

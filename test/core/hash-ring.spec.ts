import { hash32 } from '../../lib/core/hash.js';
import { HashRing } from '../../lib/core/hash-ring.js';

function ringOf(n: number): HashRing {
  const ring = new HashRing(160);
  for (let i = 0; i < n; i++) ring.add(i);
  return ring;
}

describe('HashRing', () => {
  it('returns -1 when empty and the only lane when it has one', () => {
    const ring = new HashRing();
    expect(ring.lookup('a')).toBe(-1);
    ring.add(7);
    expect(ring.lookup('a')).toBe(7);
    expect(ring.lookup('zzz')).toBe(7);
  });

  it('is deterministic for the same members', () => {
    const a = ringOf(8);
    const b = ringOf(8);
    for (let i = 0; i < 1000; i++) expect(a.lookup(`s${i}`)).toBe(b.lookup(`s${i}`));
  });

  it('spreads sessions evenly enough (each of 8 lanes within 0.6x..1.4x of fair)', () => {
    const ring = ringOf(8);
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 80_000; i++) counts[ring.lookup(`session-${i}`)]++;
    for (const c of counts) {
      expect(c).toBeGreaterThan(10_000 * 0.6);
      expect(c).toBeLessThan(10_000 * 1.4);
    }
  });

  it('moves between 8% and 14% of 100,000 sessions when growing 8 -> 9, all to the new lane', () => {
    const ring = ringOf(8);
    const before = Array.from({ length: 100_000 }, (_, i) => ring.lookup(`session-${i}`));
    ring.add(8);
    let moved = 0;
    for (let i = 0; i < before.length; i++) {
      const now = ring.lookup(`session-${i}`);
      if (now !== before[i]) {
        moved++;
        expect(now).toBe(8);
      }
    }
    expect(moved / before.length).toBeGreaterThanOrEqual(0.08);
    expect(moved / before.length).toBeLessThanOrEqual(0.14);
  });

  it("moves only the removed lane's sessions when shrinking, and restores them when it returns", () => {
    const ring = ringOf(9);
    const before = Array.from({ length: 20_000 }, (_, i) => ring.lookup(`k${i}`));
    ring.remove(4);
    expect(ring.has(4)).toBe(false);
    for (let i = 0; i < before.length; i++) {
      const now = ring.lookup(`k${i}`);
      if (before[i] !== 4) expect(now).toBe(before[i]);
      else expect(now).not.toBe(4);
    }
    ring.add(4);
    for (let i = 0; i < before.length; i++) expect(ring.lookup(`k${i}`)).toBe(before[i]);
  });

  it('answers like a brute-force ring for any size (the bucket index is only a shortcut)', () => {
    for (const [lanes, vnodes] of [
      [1, 1],
      [2, 3],
      [8, 160],
      [33, 7],
      [5, 1000],
    ]) {
      const ring = new HashRing(vnodes);
      const points: Array<[number, number]> = [];
      for (let l = 0; l < lanes; l++) {
        ring.add(l * 3);
        for (let v = 0; v < vnodes; v++) points.push([hash32(`lane-${l * 3}#${v}`), l * 3]);
      }
      points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const reference = (key: string) => {
        const h = hash32(key);
        let lo = 0;
        let hi = points.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (points[mid][0] < h) lo = mid + 1;
          else hi = mid;
        }
        return points[lo === points.length ? 0 : lo][1];
      };
      const wrong = Array.from({ length: 20_000 }, (_, i) => `key-${i}`).filter(
        (k) => ring.lookup(k) !== reference(k),
      );
      expect(wrong).toEqual([]);
    }
  });

  it('answers like a brute-force ring after adds and removes in any order, with or without lookups between them', () => {
    const vnodes = 5;
    const reference = (members: number[]) => {
      const points: Array<[number, number]> = [];
      for (const l of members)
        for (let v = 0; v < vnodes; v++) points.push([hash32(`lane-${l}#${v}`), l]);
      points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      return (key: string) => {
        const h = hash32(key);
        const i = points.findIndex(([p]) => p >= h);
        return points[i === -1 ? 0 : i][1];
      };
    };
    const ring = new HashRing(vnodes);
    const members = new Set<number>();
    // A fixed walk: adds in scrambled id order, removals, runs of changes with no lookup.
    for (let step = 0; step < 300; step++) {
      const id = (step * 37) % 101;
      if (members.has(id) && step % 3 === 0) {
        ring.remove(id);
        members.delete(id);
      } else {
        ring.add(id);
        members.add(id);
      }
      if (step % 7 !== 0) continue; // looked up only now and then: several changes, one rebuild
      const expected = reference([...members]);
      const keys = Array.from({ length: 500 }, (_, i) => `k${step}-${i}`);
      expect(keys.filter((k) => ring.lookup(k) !== expected(k))).toEqual([]);
    }
  });

  it('ignores adding a member twice and removing an unknown one', () => {
    const ring = ringOf(2);
    ring.add(1);
    ring.remove(42);
    expect(ring.size).toBe(2);
  });
});

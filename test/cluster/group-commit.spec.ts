// GroupCommit, without a database: the items of one turn go in one write, at most one write is
// under way, items added meanwhile go together in the next, in the order added, maxBatch apart.
import { describe, expect, it } from '@jest/globals';
import { GroupCommit } from '../../lib/cluster/group-commit.js';
import { type Deferred, deferred } from '../support/deferred.js';

/** A GroupCommit whose writes are held until the test ends them. */
function held(maxBatch?: number) {
  const writes: { batch: number[]; done: Deferred }[] = [];
  const started: Deferred[] = [deferred()];
  let underWay = 0;
  let most = 0;
  const commit = new GroupCommit<number>(async (batch) => {
    most = Math.max(most, ++underWay);
    const done = deferred();
    writes.push({ batch, done });
    started[writes.length - 1]!.resolve();
    started.push(deferred());
    await done.promise;
    underWay--;
  }, maxBatch);
  return { commit, writes, started: (n: number) => started[n]!.promise, most: () => most };
}

describe('GroupCommit', () => {
  it('writes the items of one turn together, and those added during a write together in the next, one write at a time, in order', async () => {
    const { commit, writes, started, most } = held();
    for (const n of [1, 2, 3]) commit.add(n);
    await started(0);
    expect(writes.map((w) => w.batch)).toEqual([[1, 2, 3]]);
    for (const n of [4, 5]) commit.add(n);
    // Not written while the first write is under way.
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toHaveLength(1);
    commit.add(6);
    writes[0]!.done.resolve();
    await started(1);
    expect(writes.map((w) => w.batch)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    writes[1]!.done.resolve();
    // Idle again: the next item starts a write of its own.
    commit.add(7);
    await started(2);
    expect(writes[2]!.batch).toEqual([7]);
    writes[2]!.done.resolve();
    expect(most()).toBe(1);
  });

  it('splits what waits into writes of at most maxBatch items, in order', async () => {
    const { commit, writes, started } = held(2);
    for (let n = 1; n <= 5; n++) commit.add(n);
    for (let i = 0; i < 3; i++) {
      await started(i);
      writes[i]!.done.resolve();
    }
    expect(writes.map((w) => w.batch)).toEqual([[1, 2], [3, 4], [5]]);
  });
});

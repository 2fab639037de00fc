import {
  type BatchItem,
  Dispatcher,
  InvalidOptionError,
  SelfWaitError,
  type TaskContext,
} from '../../lib/core/index.js';
import { deferred, flush } from '../support/deferred.js';

// Lanes of concurrency 2 and several sessions throughout: the check must tell the handler's
// own session (or lane) apart from the others running beside it.
const pool = (checkSelfWait = true) =>
  new Dispatcher({ lanes: 2, laneConcurrency: 2, checkSelfWait, latencySampleEvery: 0 });

describe('a handler waiting for itself', () => {
  it('awaiting submit to its own session is refused with SelfWaitError, after an await too', async () => {
    const p = pool();
    const seen: unknown[] = [];
    p.registerHandler('inner', () => 'inner');
    p.registerHandler('outer', async (_: null, ctx: TaskContext) => {
      await Promise.resolve(); // the check follows the handler across awaits
      try {
        await p.submit('inner', null, { sessionId: ctx.sessionId });
      } catch (error) {
        seen.push(error);
      }
      // Another session, and a follow-up queued on its own: both fine.
      seen.push(await p.submit('inner', null, { sessionId: `${ctx.sessionId}-other` }));
      await p.enqueue('inner', null, { sessionId: ctx.sessionId });
      return 'done';
    });
    p.start();
    await expect(
      Promise.all(['a', 'b', 'c'].map((s) => p.submit('outer', null, { sessionId: s }))),
    ).resolves.toEqual(['done', 'done', 'done']);
    await p.drain();
    expect(seen.filter((e) => e instanceof SelfWaitError)).toHaveLength(3);
    expect(seen.filter((e) => e === 'inner')).toHaveLength(3);
    const error = seen[0] as SelfWaitError;
    expect(error.code).toBe('SELF_WAIT');
    expect(error.message).toMatch(/own session "[abc]".*enqueue\(\)/);
    expect(p.stats()).toMatchObject({ selfWaits: 3, rejected: 3, completed: 9 });
  });

  it('without the check the same submit waits forever (what the check prevents)', async () => {
    const p = pool(false);
    const inner = deferred<unknown>();
    p.registerHandler('inner', () => 'inner');
    p.registerHandler('outer', async (_: null, ctx: TaskContext) => {
      inner.resolve(p.submit('inner', null, { sessionId: ctx.sessionId }));
      return 'done';
    });
    p.start();
    await p.submit('outer', null, { sessionId: 'a' });
    // The outer task settled here, so its session moved on: the inner task ran. Had the
    // outer handler awaited it, neither would ever settle.
    await expect(inner.promise).resolves.toBe('inner');
    p.registerHandler('waits', async (_: null, ctx: TaskContext) => {
      await p.submit('inner', null, { sessionId: ctx.sessionId });
    });
    const waiting = p.submit('waits', null, { sessionId: 'b' }).catch((e: Error) => e.name);
    await flush(50);
    expect(p.stats()).toMatchObject({ running: 1, queued: 1, selfWaits: 0 });
    // Only the drain deadline ends it: the inner task is cancelled, and the handler with it.
    await p.drain(0);
    await expect(waiting).resolves.toBe('TaskCancelledError');
  });

  it("removing its own lane (removeLane or a resize) is refused; other lanes' removal is not", async () => {
    const p = new Dispatcher({ lanes: 4, laneConcurrency: 2, checkSelfWait: true });
    const seen: string[] = [];
    const lanes: number[] = [];
    const gate = deferred();
    const checked = deferred();
    const attempt = async (what: string, call: () => Promise<void>) => {
      try {
        await call();
        seen.push(`${what} ok`);
      } catch (error) {
        seen.push(`${what}: ${(error as Error).name}`);
      }
    };
    p.registerHandler('shrink', async (_: null, ctx: TaskContext) => {
      lanes.push(ctx.laneId);
      await gate.promise;
      if (ctx.laneId === 3) {
        await attempt('removeLane(3)', () => p.removeLane(3));
        // The highest lane ids go first: resize(3) removes lane 3.
        await attempt('resize(3)', () => p.resize(3));
        checked.resolve();
      } else if (ctx.laneId === 0) {
        await checked.promise;
        await attempt('resize(2) from lane 0', () => p.resize(2));
      }
    });
    p.start();
    // Unkeyed, least-loaded: one task per lane.
    const done = [0, 1, 2, 3].map(() => p.submit('shrink', null));
    await flush();
    expect(lanes.sort()).toEqual([0, 1, 2, 3]);
    gate.resolve();
    await Promise.all(done);
    expect(seen).toEqual([
      'removeLane(3): SelfWaitError',
      'resize(3): SelfWaitError',
      'resize(2) from lane 0 ok',
    ]);
    expect(p.stats().selfWaits).toBe(2);
    expect(p.stats().lanes.map((l) => l.id)).toEqual([0, 1]);
  });

  it('a batch handler submitting to one of its items sessions is refused', async () => {
    const p = pool();
    const seen: unknown[] = [];
    p.registerHandler('inner', () => 'inner');
    p.registerHandler(
      'audit',
      async (items: BatchItem<string>[]) => {
        for (const item of items) {
          seen.push(
            await p
              .submit('inner', null, { sessionId: item.ctx.sessionId })
              .catch((e: Error) => e.name),
          );
          // Inside the item's caller context too.
          seen.push(
            await item.run(() =>
              p
                .submit('inner', null, { sessionId: item.ctx.sessionId })
                .catch((e: Error) => e.name),
            ),
          );
        }
      },
      { batch: { maxSize: 2, maxWaitMs: 0 } },
    );
    p.start();
    await Promise.all(['a', 'b'].map((s) => p.submit('audit', s, { sessionId: s })));
    expect(seen).toEqual(['SelfWaitError', 'SelfWaitError', 'SelfWaitError', 'SelfWaitError']);
  });

  it('is on by default only where AsyncLocalStorage is cheap (Node 24+), and checks its option', () => {
    const major = Number(process.versions.node.split('.')[0]);
    expect(new Dispatcher().options.checkSelfWait).toBe(major >= 24);
    expect(() => new Dispatcher({ checkSelfWait: 'yes' as never })).toThrow(InvalidOptionError);
  });
});

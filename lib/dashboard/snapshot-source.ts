import type { MessageEvent } from '@nestjs/common';
import {
  type Observable,
  type SchedulerLike,
  Subject,
  asyncScheduler,
  defer,
  map,
  merge,
  share,
  shareReplay,
  takeUntil,
  timer,
} from 'rxjs';
import { type PoolView, snapshotOf } from './pool-snapshot.js';

/**
 * The dashboard's one feed, shared by every viewer: a single timer reads each pool's stats()
 * once per period and serializes the result once, whatever the number of open pages; pool
 * events (lanes, resizes, scaling decisions) are relayed as they happen, from `poolEvents$`,
 * which builds no per-task event. With no viewer, nothing runs and nothing is subscribed.
 */
export class SnapshotSource {
  private readonly snapshots$: Observable<MessageEvent>;
  private readonly events$: Observable<MessageEvent>;
  private readonly closed = new Subject<void>();

  constructor(
    pools: () => readonly PoolView[],
    periodMs = 1_000,
    scheduler: SchedulerLike = asyncScheduler,
  ) {
    this.snapshots$ = timer(0, periodMs, scheduler).pipe(
      map(() => ({
        type: 'snapshot',
        data: JSON.stringify({ at: scheduler.now(), pools: pools().map(snapshotOf) }),
      })),
      // A viewer who joins gets the latest snapshot at once, then the shared ticks; with no
      // viewer left the timer stops and the last snapshot is dropped (refCount resets).
      shareReplay({ bufferSize: 1, refCount: true }),
    );
    this.events$ = defer(() =>
      merge(
        ...pools().map((p) =>
          p.dispatcher.poolEvents$.pipe(
            map((event) => ({
              type: 'pool-event',
              data: JSON.stringify({ pool: p.name, at: scheduler.now(), event }),
            })),
          ),
        ),
      ),
    ).pipe(share());
  }

  /** One viewer's stream; it completes when the app shuts down (so the HTTP server can close). */
  stream(): Observable<MessageEvent> {
    return merge(this.snapshots$, this.events$).pipe(takeUntil(this.closed));
  }

  /** Ends every open stream. */
  close(): void {
    this.closed.next();
    this.closed.complete();
  }

  // Before the HTTP server closes (beforeApplicationShutdown comes later): open streams would hold it.
  onModuleDestroy(): void {
    this.close();
  }
}

import { InvalidOptionError } from '../errors.js';
import type { Outcomes } from '../outcomes.js';
import type { SelfWaitCheck } from '../self-wait.js';
import type { LaneLifecycle } from './lane-lifecycle.js';
import type { LaneSet } from './lane-set.js';

/**
 * Growing and shrinking a pool: argument checks against maxLanes, and the lane events
 * (`lane-added`, `lane-retiring`, `lane-removed`, `resized`) for whoever listens.
 */
export class LaneSizing {
  constructor(
    private readonly lanes: LaneSet,
    private readonly lifecycle: LaneLifecycle,
    private readonly outcomes: Outcomes,
    private readonly maxLanes: number,
    private readonly selfWait: SelfWaitCheck | undefined,
  ) {}

  add(): number {
    if (this.lanes.byId.size >= this.maxLanes) {
      throw new InvalidOptionError(
        'lanes',
        this.lanes.byId.size + 1,
        `at most maxLanes (${this.maxLanes})`,
      );
    }
    return this.grow(1)[0];
  }

  remove(laneId: number): Promise<void> {
    if (!Number.isInteger(laneId)) {
      throw new InvalidOptionError(
        'laneId',
        laneId,
        'an integer lane id, as listed in stats().lanes',
      );
    }
    this.refuseSelfWait([laneId]);
    return this.shrink(laneId);
  }

  resize(lanes: number): Promise<void> {
    if (!Number.isInteger(lanes) || lanes < 1 || lanes > this.maxLanes) {
      throw new InvalidOptionError(
        'lanes',
        lanes,
        `an integer from 1 to maxLanes (${this.maxLanes})`,
      );
    }
    const from = this.lanes.byId.size;
    if (lanes < from) {
      const ids = [...this.lanes.byId.keys()].sort((a, b) => b - a);
      this.refuseSelfWait(ids.slice(0, from - lanes));
    }
    if (this.lanes.byId.size < lanes) this.grow(lanes - this.lanes.byId.size);
    const removals: Promise<void>[] = [];
    // Highest ids first, sorted once: shrinking by N lanes is not N scans of the lanes.
    const ids = [...this.lanes.byId.keys()].sort((a, b) => b - a);
    for (let i = 0; this.lanes.byId.size > lanes; i++) removals.push(this.shrink(ids[i]));
    if (from !== lanes && this.outcomes.watched)
      this.outcomes.publish({ type: 'resized', from, to: lanes });
    return Promise.all(removals).then(() => undefined);
  }

  // A handler awaiting the removal of its own lane would wait for itself.
  private refuseSelfWait(laneIds: number[]): void {
    const error = this.selfWait?.removalError(laneIds);
    if (error === undefined) return;
    this.outcomes.counts.selfWaits++;
    throw error;
  }

  /** Adds lanes without the maxLanes check (staged start adds up to the configured size). */
  grow(count: number): number[] {
    const ids = this.lifecycle.add(count).map((lane) => lane.id);
    if (this.outcomes.watched) {
      for (const laneId of ids) this.outcomes.publish({ type: 'lane-added', laneId });
    }
    return ids;
  }

  private shrink(laneId: number): Promise<void> {
    const gone = this.lifecycle.remove(laneId);
    if (!this.outcomes.watched) return gone;
    this.outcomes.publish({ type: 'lane-retiring', laneId });
    return gone.then(() => this.outcomes.publish({ type: 'lane-removed', laneId }));
  }
}

/**
 * Starts a pool's lanes in steps (the `stagedStart` option): `lanesPerStep` at once, then as
 * many more every `delayMs` until the pool's size, so that many lanes whose handlers open
 * connections do not all start together. Any resize or a drain ends the steps early.
 */
export class StagedStart {
  private timer: NodeJS.Timeout | undefined = undefined;
  /** Steps are still to come: set until the last step or an early end. */
  active: boolean;

  constructor(
    private readonly plan: { lanesPerStep: number; delayMs: number } | undefined,
    private readonly target: number,
    /** The pool's live lanes now, and a way to add one. */
    private readonly lanes: () => number,
    private readonly grow: () => void,
    /** Called once, when the steps end, whether done or cut short. */
    private readonly ended: () => void,
  ) {
    this.active = this.first < target;
  }

  /** How many lanes the pool creates at once. */
  get first(): number {
    return Math.min(this.target, this.plan?.lanesPerStep ?? Infinity);
  }

  /** Takes the remaining steps, one every `delayMs`. */
  begin(): void {
    const { lanesPerStep, delayMs } = this.plan!;
    const step = () => {
      for (let i = 0; i < lanesPerStep && this.lanes() < this.target; i++) this.grow();
      if (this.lanes() < this.target) this.timer = setTimeout(step, delayMs);
      else this.end();
    };
    this.timer = setTimeout(step, delayMs);
  }

  end(): void {
    const was = this.active;
    this.active = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (was) this.ended();
  }
}

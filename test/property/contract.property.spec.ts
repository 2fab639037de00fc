/**
 * Property-based check of the Dispatcher contract (DESIGN.md, "The contract"): random
 * sequences of keyed and unkeyed submits and enqueues with per-task handler outcomes,
 * releases of held handlers in random order, aborts of waiting callers, lane changes,
 * start, drain with a random deadline and fake-clock ticks, against bounded queues with
 * both whenFull policies. pool-model.ts lists what is checked after every command and at
 * the end of each run.
 *
 * Runs replay exactly: on failure fast-check prints the seed and path. Rerun one property:
 *   FC_SEED=<seed> FC_PATH=<path> npm test -- test/property -t '<profile>'
 * Runs per property: FC_NUM_RUNS (default 500); soak with `npm run test:soak`.
 */
import { jest } from '@jest/globals';
import fc from 'fast-check';
import { commandsArb, configArb, coverage, PoolHarness, type Profile } from './pool-model.js';
import { assertWithin, propertyRuns } from './runs.js';

const NUM_RUNS = propertyRuns(500);
// A run takes a few ms; leave room for slow CI machines and soak runs.
const TIMEOUT_MS = Math.max(60_000, NUM_RUNS * 25);
const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const PATH = process.env.FC_PATH;
const MAX_COMMANDS = 60;

beforeEach(() =>
  jest.useFakeTimers({
    // Only the clock and timers are fake (the drain deadline). Microtasks and setImmediate
    // stay real so the harness can wait for the engine to settle between commands.
    doNotFake: [
      'nextTick',
      'queueMicrotask',
      'setImmediate',
      'clearImmediate',
      'performance',
      'hrtime',
    ],
  }),
);
afterEach(() => jest.useRealTimers());

async function holds(profile: Profile): Promise<void> {
  await assertWithin(
    configArb(profile).chain((cfg) =>
      fc.tuple(fc.constant(cfg), commandsArb(profile, cfg, MAX_COMMANDS)),
    ),
    async ([cfg, cmds]) => {
      let harness!: PoolHarness;
      await fc.asyncModelRun(() => {
        harness = new PoolHarness(cfg);
        return { model: harness, real: harness };
      }, cmds);
      await harness.finish();
    },
    { numRuns: NUM_RUNS, seed: SEED, path: PATH },
    TIMEOUT_MS,
  );
}

describe('Dispatcher contract (model-based)', () => {
  it(
    `holds for random command sequences: full (${NUM_RUNS} runs)`,
    async () => {
      await holds('full');
      // The runs changed lanes under load, and sessions moved between two of their tasks
      // (rebalance 'between-tasks', drawn explicitly and as the default), so the checks of
      // order, exclusion and destination above saw moves. Not asserted when replaying one run
      // (a loaded machine may also stop the property early: counted over the runs made).
      if (PATH === undefined && coverage.runs >= 100) {
        expect(coverage.laneChangesUnderLoad).toBeGreaterThan(coverage.runs / 20);
        expect(coverage.movedBetweenTasks).toBeGreaterThan(coverage.runs / 100);
      }
    },
    TIMEOUT_MS,
  );
  it(
    `holds for random command sequences: admission (${NUM_RUNS} runs)`,
    () => holds('admission'),
    TIMEOUT_MS,
  );
});

/**
 * Property-based check of the task policies (issue #6): random per-task and handler-level
 * priorities, retry policies (jitter off, so the model predicts every backoff), timeouts with
 * and without overlapOnTimeout, pool and per-type rate limits, onSettled callbacks and caller
 * aborts of queued, running and retrying tasks, against fake timers and a fake clock.
 * policy-model.ts lists what is checked.
 *
 * Runs replay exactly: on failure fast-check prints the seed and path. Rerun:
 *   FC_SEED=<seed> FC_PATH=<path> npm test -- test/property -t 'policies'
 * Runs: FC_NUM_RUNS (default 500, shared with the contract suite).
 */
import { jest } from '@jest/globals';
import fc from 'fast-check';
import { coverage, PolicyHarness, policyCommandsArb, policyConfigArb } from './policy-model.js';
import { assertWithin, propertyRuns } from './runs.js';

const NUM_RUNS = propertyRuns(500);
const TIMEOUT_MS = Math.max(60_000, NUM_RUNS * 40);
const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const PATH = process.env.FC_PATH;
const MAX_COMMANDS = 40;

beforeEach(() =>
  jest.useFakeTimers({
    // Timers and the clock (performance.now, which the rate limiters read) are fake;
    // microtasks and setImmediate stay real so the harness can wait for the engine.
    doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'hrtime'],
  }),
);
afterEach(() => jest.useRealTimers());
afterAll(() => {
  if (process.env.FC_POLICY_COVERAGE) console.log(coverage);
});

describe('Dispatcher task policies (model-based)', () => {
  it(
    `policies: priority, retry, timeouts, rate limits, onSettled, aborts (${NUM_RUNS} runs)`,
    async () => {
      await assertWithin(
        policyConfigArb().chain((cfg) =>
          fc.tuple(fc.constant(cfg), policyCommandsArb(MAX_COMMANDS)),
        ),
        async ([cfg, cmds]) => {
          let harness!: PolicyHarness;
          await fc.asyncModelRun(() => {
            harness = new PolicyHarness(cfg);
            return { model: harness, real: harness };
          }, cmds);
          await harness.finish();
        },
        { numRuns: NUM_RUNS, seed: SEED, path: PATH },
        TIMEOUT_MS,
      );
    },
    TIMEOUT_MS,
  );
});

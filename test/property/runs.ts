import fc from 'fast-check';

/**
 * Runs per property, from FC_NUM_RUNS or the suite's default. Anything but an integer >= 1
 * is refused: FC_NUM_RUNS=0 would make every property pass without running a case.
 */
export function propertyRuns(defaultRuns: number): number {
  const raw = process.env.FC_NUM_RUNS;
  if (raw === undefined || raw === '') return defaultRuns;
  const runs = Number(raw);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(
      `FC_NUM_RUNS=${JSON.stringify(raw)} would run no property cases: set an integer >= 1, or unset it for the default (${defaultRuns}).`,
    );
  }
  return runs;
}

/** Below this many cases a property cut short by its time budget fails: it proves too little. */
export const MIN_RUNS_WHEN_INTERRUPTED = 25;

/** The real clock, taken before any test fakes timers. */
const realNow = performance.now.bind(performance);

/**
 * `fc.assert` with a time budget: on a machine so loaded that `numRuns` cases would not fit
 * in the test's timeout, cases drawn after half of `timeoutMs` are passed without running
 * (a case may take long on such a machine), and the property passes on what ran (at least
 * MIN_RUNS_WHEN_INTERRUPTED; it says so on stderr). Without it Jest's timeout cut the test
 * off while its case kept driving the shared fake clock under the next test, which then
 * failed for a reason not its own. fast-check's own limits do not fit: its
 * `interruptAfterTimeLimit` abandons the running case mid-way, and `skipAllAfterTimeLimit`
 * fails the property on too many skips. Once a case has failed nothing is passed over, so
 * shrinking runs in full and the failure reports its seed and path as always.
 */
export async function assertWithin<T>(
  arbitrary: fc.Arbitrary<T>,
  predicate: (value: T) => Promise<void>,
  params: fc.Parameters<[T]> & { numRuns: number },
  timeoutMs: number,
): Promise<void> {
  const deadline = realNow() + timeoutMs / 2;
  let ran = 0;
  let passedOver = 0;
  let failing = false;
  const property = fc.asyncProperty(arbitrary, async (value) => {
    if (!failing && realNow() > deadline) {
      passedOver++;
      return;
    }
    ran++;
    try {
      await predicate(value);
    } catch (error) {
      failing = true;
      throw error;
    }
  });
  await fc.assert(property, params);
  if (passedOver === 0) return;
  if (ran < Math.min(params.numRuns, MIN_RUNS_WHEN_INTERRUPTED)) {
    throw new Error(
      `only ${ran} of ${params.numRuns} property cases ran within ${timeoutMs / 2} ms: the ` +
        `machine is too loaded to prove anything; run again with less beside it, or lower FC_NUM_RUNS.`,
    );
  }
  process.stderr.write(
    `property cut short by its time budget: ${ran} of ${params.numRuns} cases ran (all passed)\n`,
  );
}

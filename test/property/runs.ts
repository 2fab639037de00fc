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

/** Below this many cases an interrupted property fails: it would prove too little. */
export const MIN_RUNS_WHEN_INTERRUPTED = 25;

/**
 * `fc.assert` with a time budget: on a machine so loaded that `numRuns` cases would not fit
 * in the test's timeout, it stops launching cases at half of `timeoutMs` (a case may take long on such a machine) and passes on what
 * ran (at least MIN_RUNS_WHEN_INTERRUPTED, and says so on stderr), instead of being cut off
 * by Jest's timeout while its last case keeps driving the shared fake clock under the next
 * test (which then fails for a reason that is not its own). A failing case fails as always,
 * with seed and path.
 */
export async function assertWithin<Ts extends [unknown, ...unknown[]]>(
  property: fc.IAsyncProperty<Ts>,
  params: fc.Parameters<Ts> & { numRuns: number },
  timeoutMs: number,
): Promise<void> {
  const details = await fc.check(property, {
    ...params,
    interruptAfterTimeLimit: Math.floor(timeoutMs * 0.5),
    markInterruptAsFailure: false,
  });
  if (details.failed) throw new Error(fc.defaultReportMessage(details));
  if (!details.interrupted) return;
  const ran = details.numRuns;
  if (ran < Math.min(params.numRuns, MIN_RUNS_WHEN_INTERRUPTED)) {
    throw new Error(
      `only ${ran} of ${params.numRuns} property cases ran within ${timeoutMs} ms: the machine is ` +
        `too loaded to prove anything; run again with less beside it, or lower FC_NUM_RUNS.`,
    );
  }
  process.stderr.write(
    `property interrupted by its time budget after ${ran} of ${params.numRuns} cases (all passed)\n`,
  );
}

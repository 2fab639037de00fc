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

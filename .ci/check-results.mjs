// Reads jest's JSON results and prints "passed failed skipped total"; exits 1 with a reason
// when the run proves nothing: no test ran, every test was skipped, or the property suites
// ran no case (FC_NUM_RUNS below 1, or none of their properties passed).
// Usage: node .ci/check-results.mjs <jest-results.json>
import { readFileSync } from 'node:fs';

const refuse = (why) => {
  console.error(`CI: ${why}`);
  process.exit(1);
};

const raw = process.env.FC_NUM_RUNS;
if (raw !== undefined && raw !== '' && !(Number.isInteger(Number(raw)) && Number(raw) >= 1))
  refuse(`FC_NUM_RUNS=${raw} makes the property suites run no case; unset it or set it >= 1`);

const r = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// A suite that fails to load has no test results; count it as a failure.
const broken = r.numRuntimeErrorTestSuites || 0;
const passed = r.numPassedTests;
const failed = r.numFailedTests + broken;
const skipped = r.numPendingTests + r.numTodoTests;
const total = r.numTotalTests;
const line = `${passed} ${failed} ${skipped} ${total}`;
if (total === 0) refuse('jest ran no test');
if (skipped === total) refuse(`every test was skipped (${skipped} of ${total})`);
const property = r.testResults
  .filter((s) => /[\\/]test[\\/]property[\\/][^\\/]+\.property\.spec\.ts$/.test(s.name))
  .flatMap((s) => s.assertionResults)
  .filter((t) => t.status === 'passed').length;
if (property === 0)
  refuse('no property test passed: the property suites were skipped or ran nothing');
process.stdout.write(line);

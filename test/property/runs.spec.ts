import fc from 'fast-check';
import { assertWithin } from './runs.js';

describe('assertWithin (property runs with a time budget)', () => {
  it('fails on a failing case, with the seed to replay it', async () => {
    const failure = await assertWithin(
      fc.integer(),
      async (n) => {
        if (n > 10) throw new Error('too big');
      },
      { numRuns: 200, seed: 42 },
      60_000,
    ).catch((e: unknown) => e as Error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/seed: 42/);
  });

  it('refuses to pass when the budget let too few cases run', async () => {
    let ran = 0;
    const failure = await assertWithin(
      fc.integer(),
      async () => {
        ran++;
      },
      { numRuns: 200 },
      0,
    ).catch((e: unknown) => e as Error);
    expect(ran).toBe(0);
    expect((failure as Error).message).toMatch(/only 0 of 200 property cases ran/);
  });

  it('runs every case when they fit in the budget', async () => {
    let ran = 0;
    await assertWithin(
      fc.integer(),
      async () => {
        ran++;
      },
      { numRuns: 200 },
      60_000,
    );
    expect(ran).toBe(200);
  });
});

// Jest 30 in ESM mode: swc strips types and keeps legacy decorators + metadata for Nest DI.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'es6' },
      },
    ],
  },
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
  // The consumer apps have their own node_modules (Nest 11 beside our Nest 12) and their own
  // Jest suite (run by test/consumers/check.mjs): not this jest's.
  modulePathIgnorePatterns: ['<rootDir>/test/consumers/'],
  testTimeout: 30000,
};

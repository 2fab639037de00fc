// Jest as a CommonJS Nest app runs it. Jest's own module loader cannot require() an ES module
// before Node 24.9, so the ESM packages (this one, @nestjs/terminus 12) are compiled to
// CommonJS by @swc/jest like the app's own files (docs/compatibility.md, "Testing with Jest").
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  testRegex: 'test/.*\\.spec\\.ts$',
  transform: {
    '^.+\\.[tj]s$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(nest-worker-pool|@nestjs/terminus)/)'],
};

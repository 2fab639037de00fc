// CommonJS entry (no top-level await): boots the app and runs the packaging checks.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { runChecks } from './checks';

async function main() {
  console.log(`module system: ${typeof module === 'object' ? 'commonjs' : 'esm'}`);
  process.env.POOL_LANES = '3';
  const app = await NestFactory.create(AppModule, { logger: ['warn', 'error'] });
  await runChecks(app, 3);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

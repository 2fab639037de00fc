import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { Injectable, type INestApplication } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { WorkerPoolHealthIndicator } from '../../lib/health/index.js';
import * as api from '../../lib/index.js';
import {
  AutoscaleSetupError,
  Autoscaler,
  Dispatcher,
  InvalidOptionError,
  TaskHandler,
  UnknownLaneError,
  UnknownPoolError,
  UnknownTaskTypeError,
  WorkerPoolError,
  WorkerPoolModule,
} from '../../lib/index.js';

/**
 * The bad-input catalogue: every public entry point called with invalid values. Each row
 * must fail with a named error class (a WorkerPoolError with a `code`) whose message names
 * the option and says what is allowed.
 *
 * Rows with `gap` document inputs the library does not reject today (or rejects with an
 * unnamed error); they run as `it.failing` and start failing, as a reminder to flip them,
 * once the gap is closed.
 */

type ErrorClass = abstract new (...args: never[]) => Error;

interface Row {
  /** The entry point. */
  entry: string;
  /** The bad input, as a reader would write it. */
  input: string;
  call: () => unknown;
  error: ErrorClass;
  /** For InvalidOptionError: the exact `option`; the message must contain it quoted. */
  option?: string;
  /** What the message must say (the allowed values, or the known names). */
  says: RegExp;
  /** Why this row fails today. */
  gap?: string;
}

const noop = () => undefined;

/** A started pool with one handler 't', lanes 0 and 1, maxLanes 4 (a task it accepts settles). */
function pool(): Dispatcher {
  const p = new Dispatcher({ lanes: 2, maxLanes: 4 });
  p.registerHandler('t', noop);
  p.start();
  return p;
}

/** Boots a Nest app; a boot that succeeds is closed and counts as "no error". */
async function boot(imports: unknown[], providers: unknown[] = []): Promise<void> {
  const moduleRef = await Test.createTestingModule({
    imports: imports as never[],
    providers: providers as never[],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  try {
    await app.init();
  } finally {
    await app.close().catch(noop);
  }
}

let healthApp: INestApplication;
const health = () => healthApp.get(WorkerPoolHealthIndicator);

beforeAll(async () => {
  const moduleRef = await Test.createTestingModule({
    imports: [TerminusModule, WorkerPoolModule.forRoot()],
    providers: [WorkerPoolHealthIndicator],
  }).compile();
  healthApp = moduleRef.createNestApplication({ logger: false });
  await healthApp.init();
});
afterAll(() => healthApp.close());

const mustBeInt = /expected an integer >= 1\.$/;
/** For a number given as a string, `says` ends with how to convert it (config hands out strings). */
const converted = (says: RegExp, value: unknown, key: string): RegExp =>
  typeof value === 'string'
    ? new RegExp(
        `${says.source.replace(/\$$/, '')} Values read from the environment are strings: convert them first, e\\.g\\. Number\\(config\\.get\\('${key}'\\)\\)\\.$`,
      )
    : says;
const countBound = /expected an integer from 1 to 9007199254740991\.$/;
const rows: Row[] = [
  // ---------------------------------------------------------------- new Dispatcher(options)
  ...[null, 5, 'lanes=4', true].map((v): Row => ({
    entry: 'new Dispatcher',
    input: `options ${String(v)}`,
    call: () => new Dispatcher(v as never),
    error: InvalidOptionError,
    option: 'options',
    says: /expected an object\.$/,
  })),
  {
    entry: 'new Dispatcher',
    input: 'unknown option { lane: 8 }',
    call: () => new Dispatcher({ lane: 8 } as never),
    error: InvalidOptionError,
    option: 'lane',
    says: /no such option; known options: lanes, maxLanes, laneConcurrency, maxQueued, .*onUnhandledFailure, onDeadLetter, onSubscriberError\.$/,
  },
  ...[0, -1, 1.5, NaN, Infinity, '4', null].map((v): Row => ({
    entry: 'new Dispatcher',
    input: `lanes ${String(v)}`,
    call: () => new Dispatcher({ lanes: v as number }),
    error: InvalidOptionError,
    option: 'lanes',
    says: converted(mustBeInt, v, 'POOL_LANES'),
  })),
  {
    entry: 'new Dispatcher',
    input: 'lanes above maxLanes',
    call: () => new Dispatcher({ lanes: 10, maxLanes: 5 }),
    error: InvalidOptionError,
    option: 'lanes',
    says: /expected an integer from 1 to maxLanes \(5\)\.$/,
  },
  ...[0, 2.5, '8'].map((v): Row => ({
    entry: 'new Dispatcher',
    input: `maxLanes ${String(v)}`,
    call: () => new Dispatcher({ maxLanes: v as number }),
    error: InvalidOptionError,
    option: 'maxLanes',
    says: converted(mustBeInt, v, 'POOL_MAX_LANES'),
  })),
  {
    entry: 'new Dispatcher',
    input: 'maxLanes above 65,536',
    call: () => new Dispatcher({ maxLanes: 65_537 }),
    error: InvalidOptionError,
    option: 'maxLanes',
    says: /expected an integer from 1 to 65536\.$/,
  },
  ...[0, 1.5, Infinity, 2 ** 20 + 1, 1e300].map((v): Row => ({
    entry: 'new Dispatcher',
    input: `laneConcurrency ${v}`,
    call: () => new Dispatcher({ laneConcurrency: v }),
    error: InvalidOptionError,
    option: 'laneConcurrency',
    says: /expected an integer from 1 to 1048576\.$/,
  })),
  ...(['maxQueued', 'maxQueuedPerSession'] as const).flatMap((option) =>
    [0, -1, 1.5, NaN, -Infinity, '10', 2 ** 53, 1e300].map((v): Row => ({
      entry: 'new Dispatcher',
      input: `${option} ${String(v)}`,
      call: () => new Dispatcher({ [option]: v }),
      error: InvalidOptionError,
      option,
      says: converted(
        /expected an integer from 1 to 9007199254740991, or Infinity\.$/,
        v,
        option === 'maxQueued' ? 'POOL_MAX_QUEUED' : 'POOL_MAX_QUEUED_PER_SESSION',
      ),
    })),
  ),
  ...['drop', true].map((v): Row => ({
    entry: 'new Dispatcher',
    input: `whenFull ${String(v)}`,
    call: () => new Dispatcher({ whenFull: v as never }),
    error: InvalidOptionError,
    option: 'whenFull',
    says: /expected 'reject' or 'wait'\.$/,
  })),
  // Removed options are refused by name with what to do, never ignored.
  ...[160, 1, '160', undefined].map((v): Row => ({
    entry: 'new Dispatcher',
    input: `virtualNodes ${String(v)} (removed)`,
    call: () => new Dispatcher({ virtualNodes: v } as never),
    error: InvalidOptionError,
    option: 'virtualNodes',
    says: /expected no value: the option was removed, since sessions are placed through a slot table .*; delete virtualNodes from the options\.$/,
  })),
  ...['hash', '', 'Ring', null].map((v): Row => ({
    entry: 'new Dispatcher',
    input: `placement ${String(v)}`,
    call: () => new Dispatcher({ placement: v as never }),
    error: InvalidOptionError,
    option: 'placement',
    says: /expected 'ring', 'bounded' or 'least-loaded'\.$/,
  })),
  ...[-0.1, 100.5, NaN, Infinity, '0.25'].map((v): Row => ({
    entry: 'new Dispatcher',
    input: `balanceFactor ${String(v)}`,
    call: () => new Dispatcher({ balanceFactor: v as never }),
    error: InvalidOptionError,
    option: 'balanceFactor',
    says: /expected a number from 0 to 100 \(0.25: a lane takes at most 1.25 x the mean load\)\./,
  })),
  // Upper bounds: every numeric option has one, and the message names it.
  {
    entry: 'new Dispatcher',
    input: 'latencySampleEvery 2^53',
    call: () => new Dispatcher({ latencySampleEvery: 2 ** 53 }),
    error: InvalidOptionError,
    option: 'latencySampleEvery',
    says: /expected an integer from 0 to 9007199254740991 \(0: off, 1: every task\)\.$/,
  },
  {
    entry: 'new Dispatcher',
    input: 'stagedStart.lanesPerStep 65,537',
    call: () => new Dispatcher({ stagedStart: { lanesPerStep: 65_537, delayMs: 10 } }),
    error: InvalidOptionError,
    option: 'stagedStart.lanesPerStep',
    says: /expected an integer from 1 to 65536\.$/,
  },
  {
    entry: 'new Dispatcher',
    input: 'rateLimit.tasks 2^53',
    call: () => new Dispatcher({ rateLimit: { tasks: 2 ** 53, intervalMs: 1_000 } }),
    error: InvalidOptionError,
    option: 'rateLimit',
    says: /tasks at most 2\^53 - 1, intervalMs below 2\^31\)\.$/,
  },
  {
    entry: 'registerHandler',
    input: 'batch.maxSize 2^20 + 1',
    call: () =>
      new Dispatcher().registerHandler('b', () => [], {
        batch: { maxSize: 2 ** 20 + 1, maxWaitMs: 0 },
      }),
    error: InvalidOptionError,
    option: 'batch of "b".maxSize',
    says: /expected an integer from 1 to 1048576\.$/,
  },
  {
    entry: 'new Autoscaler',
    input: 'history 10,001',
    call: () =>
      new Autoscaler(new Dispatcher({ maxLanes: 8 }), { min: 1, max: 4, history: 10_001 }),
    error: InvalidOptionError,
    option: 'autoscale.history',
    says: /expected an integer from 1 to 10000\.$/,
  },
  {
    entry: 'new Autoscaler',
    input: 'policy.maxStepUp 65,537',
    call: () =>
      new Autoscaler(new Dispatcher({ maxLanes: 8 }), {
        min: 1,
        max: 4,
        policy: { maxStepUp: 65_537 },
      }),
    error: InvalidOptionError,
    option: 'autoscale.policy.maxStepUp',
    says: /expected an integer from 1 to 65536\.$/,
  },
  ...(['onUnhandledFailure', 'onDeadLetter', 'onSubscriberError'] as const).map((option): Row => ({
    entry: 'new Dispatcher',
    input: `${option} 'log'`,
    call: () => new Dispatcher({ [option]: 'log' as never }),
    error: InvalidOptionError,
    option,
    says: /expected a function\.$/,
  })),

  // ---------------------------------------------------------------- registerHandler
  ...['', 5].map((v): Row => ({
    entry: 'registerHandler',
    input: `type ${JSON.stringify(v)}`,
    call: () => pool().registerHandler(v as string, noop),
    error: InvalidOptionError,
    option: 'type',
    says: /expected a non-empty string naming the task type\.$/,
  })),
  {
    entry: 'registerHandler',
    input: 'handler not a function',
    call: () => pool().registerHandler('u', 'run' as never),
    error: InvalidOptionError,
    option: 'handler',
    says: /expected a function for task type "u"\.$/,
  },
  {
    entry: 'registerHandler',
    input: 'retry attempts 0',
    call: () => pool().registerHandler('u', noop, { retry: { attempts: 0 } }),
    error: InvalidOptionError,
    option: 'retry of "u".attempts',
    says: countBound,
  },
  {
    entry: 'registerHandler',
    input: 'timeoutMs -1',
    call: () => pool().registerHandler('u', noop, { timeoutMs: -1 }),
    error: InvalidOptionError,
    option: 'timeoutMs of "u"',
    says: /expected a number of milliseconds > 0 \(below 2\^31\)\.$/,
  },
  {
    entry: 'registerHandler',
    input: 'unknown option { retries: 3 }',
    call: () => pool().registerHandler('u', noop, { retries: 3 } as never),
    error: InvalidOptionError,
    option: 'retries',
    says: /no such option/,
  },

  // ---------------------------------------------------------------- submit / enqueue options
  ...[42, '', null, { id: 's' }, Symbol('s')].map((v): Row => ({
    entry: 'submit',
    input: `sessionId ${typeof v === 'symbol' ? 'Symbol' : JSON.stringify(v)}`,
    call: () => pool().submit('t', null, { sessionId: v as string }),
    error: InvalidOptionError,
    option: 'sessionId',
    says: /expected a non-empty string \(convert numeric ids with String\(id\)\), or undefined\.$/,
  })),
  {
    entry: 'enqueue',
    input: 'sessionId 42',
    call: () => pool().enqueue('t', null, { sessionId: 42 as never }),
    error: InvalidOptionError,
    option: 'sessionId',
    says: /expected a non-empty string/,
  },
  {
    entry: 'submit',
    input: 'unknown task type',
    call: () => pool().submit('tt', null),
    error: UnknownTaskTypeError,
    says: /No handler is registered for task type "tt"\. Known types: "t"\./,
  },
  {
    entry: 'submit',
    input: "retry 'x'",
    call: () => pool().submit('t', null, { retry: 'x' as never }),
    error: InvalidOptionError,
    option: 'retry',
    says: /expected a number of attempts or an object such as \{ attempts: 3, delayMs: 200 \}\.$/,
  },
  ...(
    [
      ['retry 0', 0, 'retry.attempts', countBound],
      ['retry.attempts 1.5', { attempts: 1.5 }, 'retry.attempts', countBound],
      ['retry.attempts 2^53', { attempts: 2 ** 53 }, 'retry.attempts', countBound],
      [
        'retry.delayMs -1',
        { delayMs: -1 },
        'retry.delayMs',
        /expected a number of milliseconds >= 0 and below 2\^31\.$/,
      ],
      [
        'retry.delayMs NaN',
        { delayMs: NaN },
        'retry.delayMs',
        /expected a number of milliseconds >= 0 and below 2\^31\.$/,
      ],
      ['retry.factor 0.5', { factor: 0.5 }, 'retry.factor', /expected a finite number >= 1\.$/],
      [
        'retry.maxDelayMs Infinity',
        { maxDelayMs: Infinity },
        'retry.maxDelayMs',
        /expected a number of milliseconds >= delayMs \(100\) and below 2\^31\.$/,
      ],
      [
        'retry.maxDelayMs below delayMs',
        { delayMs: 500, maxDelayMs: 10 },
        'retry.maxDelayMs',
        /expected a number of milliseconds >= delayMs \(500\) and below 2\^31\.$/,
      ],
      ['retry.jitter 1', { jitter: 1 }, 'retry.jitter', /expected true or false\.$/],
      [
        'retry.retryIf not a function',
        { retryIf: 'yes' },
        'retry.retryIf',
        /expected a function \(error, ctx\) => boolean\.$/,
      ],
      [
        'retry unknown key { tries: 2 }',
        { tries: 2 },
        'retry.tries',
        /no such option; known: attempts, delayMs, factor, maxDelayMs, jitter, retryIf\.$/,
      ],
    ] as const
  ).map(([input, retry, option, says]): Row => ({
    entry: 'submit',
    input,
    call: () => pool().submit('t', null, { retry: retry as never }),
    error: InvalidOptionError,
    option,
    says,
  })),
  ...[0, -5, NaN, 2 ** 31].map((v): Row => ({
    entry: 'submit',
    input: `timeoutMs ${String(v)}`,
    call: () => pool().submit('t', null, { timeoutMs: v as number }),
    error: InvalidOptionError,
    option: 'timeoutMs',
    says: /expected a number of milliseconds > 0 \(below 2\^31\)\.$/,
  })),
  {
    entry: 'submit',
    input: "timeoutMs '100' (a string)",
    call: () => pool().submit('t', null, { timeoutMs: '100' as never }),
    error: InvalidOptionError,
    option: 'timeoutMs',
    says: /expected a number of milliseconds/,
  },
  {
    entry: 'submit',
    input: "overlapOnTimeout 'yes'",
    call: () => pool().submit('t', null, { overlapOnTimeout: 'yes' as never }),
    error: InvalidOptionError,
    option: 'overlapOnTimeout',
    says: /expected true or false\.$/,
  },
  {
    entry: 'submit',
    input: 'signal not an AbortSignal',
    call: () => pool().submit('t', null, { signal: {} as AbortSignal }),
    error: InvalidOptionError,
    option: 'signal',
    says: /AbortSignal/,
  },
  {
    entry: 'submit',
    input: "options a string (submit(type, payload, 'session-1'))",
    call: () => pool().submit('t', null, 'session-1' as never),
    error: InvalidOptionError,
    option: 'options',
    says: /object/,
  },
  {
    entry: 'submit',
    input: 'options null',
    call: () => pool().submit('t', null, null as never),
    error: InvalidOptionError,
    option: 'options',
    says: /object/,
  },
  {
    entry: 'submit',
    input: 'unknown option { sessionID }',
    call: () => pool().submit('t', null, { sessionID: 's' } as never),
    error: InvalidOptionError,
    option: 'sessionID',
    says: /no such option/,
  },

  // ---------------------------------------------------------------- resize / addLane / removeLane
  ...[0, -1, NaN, 1.5, 5, Infinity, '2', undefined].map((v): Row => ({
    entry: 'resize',
    input: String(v),
    call: () => pool().resize(v as number),
    error: InvalidOptionError,
    option: 'lanes',
    says: converted(/expected an integer from 1 to maxLanes \(4\)\.$/, v, 'POOL_LANES'),
  })),
  {
    entry: 'addLane',
    input: 'beyond maxLanes',
    call: () => {
      const p = pool();
      p.addLane();
      p.addLane();
      p.addLane();
    },
    error: InvalidOptionError,
    option: 'lanes',
    says: /expected at most maxLanes \(4\)\.$/,
  },
  {
    entry: 'removeLane',
    input: 'a fractional id 0.5',
    call: () => pool().removeLane(0.5),
    error: InvalidOptionError,
    option: 'laneId',
    says: /expected an integer lane id, as listed in stats\(\)\.lanes\.$/,
  },
  ...[7, -1].map((v): Row => ({
    entry: 'removeLane',
    input: `unknown lane ${v}`,
    call: () => pool().removeLane(v),
    error: UnknownLaneError,
    says: new RegExp(
      `^No lane with id ${v}\\. Current lanes: 0, 1\\. Read lane ids from stats\\(\\)\\.lanes\\.$`,
    ),
  })),
  {
    entry: 'removeLane',
    input: 'the last lane',
    call: () => new Dispatcher({ lanes: 1 }).removeLane(0),
    error: InvalidOptionError,
    option: 'laneId',
    says: /expected a lane other than the last one: a pool keeps at least one lane\.$/,
  },
  {
    entry: 'removeLane',
    input: "a numeric string '0'",
    call: () => pool().removeLane('0' as never),
    error: InvalidOptionError,
    option: 'laneId',
    says: /integer/,
  },

  // ---------------------------------------------------------------- drain(deadlineMs)
  ...[-1, NaN, -Infinity, 'soon'].map((v): Row => ({
    entry: 'drain',
    input: `deadline ${String(v)}`,
    call: () => pool().drain(v as number),
    error: InvalidOptionError,
    option: 'deadlineMs',
    says: /expected a number of milliseconds from 0 to 2147483647 \(about 24\.8 days\), or Infinity\.$/,
  })),
  {
    entry: 'drain',
    input: 'deadline null',
    call: () => pool().drain(null as never),
    error: InvalidOptionError,
    option: 'deadlineMs',
    says: /number/,
  },

  // ---------------------------------------------------------------- @TaskHandler(type, options)
  ...['', 5].map((v): Row => ({
    entry: '@TaskHandler',
    input: `type ${JSON.stringify(v)}`,
    call: () => TaskHandler(v as string),
    error: InvalidOptionError,
    option: '@TaskHandler type',
    says: /expected a non-empty string naming the task type\.$/,
  })),
  ...[null, 'reports'].map((v): Row => ({
    entry: '@TaskHandler',
    input: `options ${JSON.stringify(v)}`,
    call: () => TaskHandler('x', v as never),
    error: InvalidOptionError,
    option: '@TaskHandler options',
    says: /expected an object such as \{ pool: "name" \}\.$/,
  })),
  ...['', 3].map((v): Row => ({
    entry: '@TaskHandler',
    input: `pool ${JSON.stringify(v)}`,
    call: () => TaskHandler('x', { pool: v as string }),
    error: InvalidOptionError,
    option: '@TaskHandler pool',
    says: /expected a non-empty string naming a pool\.$/,
  })),
  {
    entry: '@TaskHandler',
    input: "retry 'x'",
    call: () => TaskHandler('x', { retry: 'x' as never }),
    error: InvalidOptionError,
    option: '@TaskHandler retry',
    says: /expected a number of attempts or an object/,
  },
  {
    entry: '@TaskHandler',
    input: 'retry.attempts 0',
    call: () => TaskHandler('x', { retry: { attempts: 0 } }),
    error: InvalidOptionError,
    option: '@TaskHandler retry.attempts',
    says: countBound,
  },
  {
    entry: '@TaskHandler',
    input: 'retry unknown key { attemps: 3 }',
    call: () => TaskHandler('x', { retry: { attemps: 3 } as never }),
    error: InvalidOptionError,
    option: '@TaskHandler retry.attemps',
    says: /no such option; known: attempts,/,
  },
  {
    entry: '@TaskHandler',
    input: 'timeoutMs 0',
    call: () => TaskHandler('x', { timeoutMs: 0 }),
    error: InvalidOptionError,
    option: '@TaskHandler timeoutMs',
    says: /expected a number of milliseconds > 0 \(below 2\^31\)\.$/,
  },
  {
    entry: '@TaskHandler',
    input: "overlapOnTimeout 'y'",
    call: () => TaskHandler('x', { overlapOnTimeout: 'y' as never }),
    error: InvalidOptionError,
    option: '@TaskHandler overlapOnTimeout',
    says: /expected true or false\.$/,
  },
  {
    entry: '@TaskHandler',
    input: "unknown option { poool: 'reports' }",
    call: () => TaskHandler('x', { poool: 'reports' } as never),
    error: InvalidOptionError,
    option: '@TaskHandler poool',
    says: /no such option/,
  },
  {
    entry: '@TaskHandler',
    input: "pool 'nope' (not registered)",
    call: () => {
      @Injectable()
      class Lost {
        @TaskHandler('lost', { pool: 'nope' })
        run(): void {}
      }
      return boot([WorkerPoolModule.forRoot()], [Lost]);
    },
    error: UnknownPoolError,
    says: /names pool "nope", but no such pool is registered \(pools: "default"\)\. Add WorkerPoolModule\.forRoot\(\{ name: 'nope' \}\)/,
  },

  // ---------------------------------------------------------------- WorkerPoolModule.forRoot
  ...[null, 5].map((v): Row => ({
    entry: 'forRoot',
    input: `options ${String(v)}`,
    call: () => WorkerPoolModule.forRoot(v as never),
    error: InvalidOptionError,
    option: 'options',
    says: /expected an object of WorkerPoolModuleOptions\.$/,
  })),
  ...['', 5].map((v): Row => ({
    entry: 'forRoot',
    input: `name ${JSON.stringify(v)}`,
    call: () => WorkerPoolModule.forRoot({ name: v as string }),
    error: InvalidOptionError,
    option: 'name',
    says: /expected a non-empty string naming the pool\.$/,
  })),
  {
    entry: 'forRoot',
    input: "isGlobal 'yes'",
    call: () => WorkerPoolModule.forRoot({ isGlobal: 'yes' as never }),
    error: InvalidOptionError,
    option: 'isGlobal',
    says: /expected true or false\.$/,
  },
  ...[-1, NaN, '10'].map((v): Row => ({
    entry: 'forRoot (at startup)',
    input: `drainTimeoutMs ${String(v)}`,
    call: () => boot([WorkerPoolModule.forRoot({ drainTimeoutMs: v as number })]),
    error: InvalidOptionError,
    option: 'drainTimeoutMs',
    says: converted(
      /expected a number of milliseconds from 0 to 2147483647 \(about 24\.8 days\), or Infinity\.$/,
      v,
      'POOL_DRAIN_TIMEOUT_MS',
    ),
  })),
  {
    entry: 'forRoot (at startup)',
    input: 'virtualNodes 160 (removed)',
    call: () => boot([WorkerPoolModule.forRoot({ virtualNodes: 160 } as never)]),
    error: InvalidOptionError,
    option: 'virtualNodes',
    says: /the option was removed, since sessions are placed through a slot table .*; delete virtualNodes from the options\.$/,
  },
  {
    entry: 'forRoot (at startup)',
    input: 'drainTimeoutMs 2^31',
    call: () => boot([WorkerPoolModule.forRoot({ drainTimeoutMs: 2 ** 31 })]),
    error: InvalidOptionError,
    option: 'drainTimeoutMs',
    says: /2\^31|2147483647/,
  },
  {
    entry: 'forRoot (at startup)',
    input: 'lanes 0',
    call: () => boot([WorkerPoolModule.forRoot({ lanes: 0 })]),
    error: InvalidOptionError,
    option: 'lanes',
    says: mustBeInt,
  },
  {
    entry: 'forRoot (at startup)',
    input: 'unknown option { lane: 8 }',
    call: () => boot([WorkerPoolModule.forRoot({ lane: 8 } as never)]),
    error: InvalidOptionError,
    option: 'lane',
    says: /no such option; known options: lanes,/,
  },
  {
    entry: 'forRoot (at startup)',
    input: 'unknown option: the known list includes the module options',
    call: () => boot([WorkerPoolModule.forRoot({ drainTimeout: 5 } as never)]),
    error: InvalidOptionError,
    option: 'drainTimeout',
    says: /known options: .*drainTimeoutMs/,
  },
  ...(
    [
      ['autoscale null', null, 'autoscale', /expected an object such as \{ min: 2, max: 32 \}\.$/],
      ['autoscale.min 0', { min: 0, max: 4 }, 'autoscale.min', mustBeInt],
      [
        'autoscale.max below min',
        { min: 3, max: 2 },
        'autoscale.max',
        /expected an integer from autoscale\.min \(3\) to maxLanes \(256\)\.$/,
      ],
      [
        'autoscale.max above maxLanes',
        { min: 1, max: 300 },
        'autoscale.max',
        /to maxLanes \(256\)\.$/,
      ],
    ] as const
  ).map(([input, autoscale, option, says]): Row => ({
    entry: 'forRoot (at startup)',
    input,
    call: () => boot([WorkerPoolModule.forRoot({ autoscale: autoscale as never })]),
    error: InvalidOptionError,
    option,
    says,
  })),
  {
    entry: 'forRoot (at startup)',
    input: 'autoscale without ScheduleModule',
    call: () => boot([WorkerPoolModule.forRoot({ autoscale: { min: 1, max: 4 } })]),
    error: AutoscaleSetupError,
    says: /has autoscale options, but SchedulerRegistry is not available\. Import ScheduleModule\.forRoot\(\)/,
  },
  {
    entry: 'forRoot (at startup)',
    input: "autoscale.cron 'every second'",
    call: () =>
      boot([
        ScheduleModule.forRoot(),
        WorkerPoolModule.forRoot({ autoscale: { min: 1, max: 4, cron: 'every second' } }),
      ]),
    error: AutoscaleSetupError,
    says: /autoscale\.cron "every second" is not a valid cron expression/,
  },

  // ---------------------------------------------------------------- WorkerPoolModule.forRootAsync
  {
    entry: 'forRootAsync',
    input: 'options null',
    call: () => WorkerPoolModule.forRootAsync(null as never),
    error: InvalidOptionError,
    option: 'options',
    says: /expected an object with useFactory, useClass or useExisting\.$/,
  },
  {
    entry: 'forRootAsync',
    input: 'no option source',
    call: () => WorkerPoolModule.forRootAsync({}),
    error: InvalidOptionError,
    option: 'forRootAsync',
    says: /got "0 option sources"; expected exactly one of useFactory, useClass or useExisting\.$/,
  },
  {
    entry: 'forRootAsync',
    input: 'two option sources',
    call: () =>
      WorkerPoolModule.forRootAsync({
        useFactory: () => ({}),
        useClass: class {
          createWorkerPoolOptions() {
            return {};
          }
        },
      }),
    error: InvalidOptionError,
    option: 'forRootAsync',
    says: /got "2 option sources"/,
  },
  {
    entry: 'forRootAsync',
    input: "name ''",
    call: () => WorkerPoolModule.forRootAsync({ name: '', useFactory: () => ({}) }),
    error: InvalidOptionError,
    option: 'name',
    says: /expected a non-empty string naming the pool\.$/,
  },
  {
    entry: 'forRootAsync',
    input: 'isGlobal 1',
    call: () => WorkerPoolModule.forRootAsync({ isGlobal: 1 as never, useFactory: () => ({}) }),
    error: InvalidOptionError,
    option: 'isGlobal',
    says: /expected true or false\.$/,
  },
  {
    entry: 'forRootAsync (at startup)',
    input: 'factory returns null',
    call: () => boot([WorkerPoolModule.forRootAsync({ useFactory: () => null as never })]),
    error: InvalidOptionError,
    option: 'options',
    says: /expected an object of WorkerPoolOptions\.$/,
  },
  {
    entry: 'forRootAsync (at startup)',
    input: 'factory returns { lanes: 0 }',
    call: () => boot([WorkerPoolModule.forRootAsync({ useFactory: async () => ({ lanes: 0 }) })]),
    error: InvalidOptionError,
    option: 'lanes',
    says: mustBeInt,
  },
  {
    entry: 'forRootAsync (at startup)',
    input: 'factory returns { drainTimeoutMs: -1 }',
    call: () =>
      boot([WorkerPoolModule.forRootAsync({ useFactory: () => ({ drainTimeoutMs: -1 }) })]),
    error: InvalidOptionError,
    option: 'drainTimeoutMs',
    says: /expected a number of milliseconds from 0 to 2147483647 \(about 24\.8 days\), or Infinity\.$/,
  },

  // ---------------------------------------------------------------- new Autoscaler(pool, options)
  ...(
    [
      ['min 0', { min: 0, max: 4 }, 'autoscale.min', mustBeInt],
      ['min 1.5', { min: 1.5, max: 4 }, 'autoscale.min', mustBeInt],
      ['min missing', { max: 4 }, 'autoscale.min', mustBeInt],
      [
        'max below min',
        { min: 3, max: 2 },
        'autoscale.max',
        /expected an integer from autoscale\.min \(3\) to maxLanes \(8\)\.$/,
      ],
      ['max above maxLanes', { min: 1, max: 9 }, 'autoscale.max', /to maxLanes \(8\)\.$/],
      ['max 2.5', { min: 1, max: 2.5 }, 'autoscale.max', /an integer from autoscale\.min/],
      [
        "cron ''",
        { min: 1, max: 4, cron: '' },
        'autoscale.cron',
        /expected a cron expression with seconds, such as '\*\/5 \* \* \* \* \*'\.$/,
      ],
      ['cron 5', { min: 1, max: 4, cron: 5 }, 'autoscale.cron', /expected a cron expression/],
      [
        'policy 5',
        { min: 1, max: 4, policy: 5 },
        'autoscale.policy',
        /expected a policy function or options for the default policy\.$/,
      ],
      ['policy null', { min: 1, max: 4, policy: null }, 'autoscale.policy', /expected a policy/],
    ] as const
  ).map(([input, options, option, says]): Row => ({
    entry: 'new Autoscaler',
    input,
    call: () => new Autoscaler(new Dispatcher({ lanes: 2, maxLanes: 8 }), options as never),
    error: InvalidOptionError,
    option,
    says,
  })),
  ...(
    [
      ['options null', null, 'autoscale', 'TypeError from destructuring null'],
      [
        "enabled 'no'",
        { min: 1, max: 4, enabled: 'no' },
        'autoscale.enabled',
        'accepted (truthy: on)',
      ],
      ['history -1', { min: 1, max: 4, history: -1 }, 'autoscale.history', 'accepted'],
      ["windowMs 'x'", { min: 1, max: 4, windowMs: 'x' }, 'autoscale.windowMs', 'accepted'],
      [
        'unknown key { crn }',
        { min: 1, max: 4, crn: '*/5 * * * * *' },
        'autoscale.crn',
        'accepted',
      ],
      [
        'policy.targetUtilization 7',
        { min: 1, max: 4, policy: { targetUtilization: 7 } },
        'autoscale.policy.targetUtilization',
        'accepted: the default policy never scales up',
      ],
      [
        'policy.maxStepUp 0',
        { min: 1, max: 4, policy: { maxStepUp: 0 } },
        'autoscale.policy.maxStepUp',
        'accepted',
      ],
      [
        'policy unknown key { scaleUpDelay }',
        { min: 1, max: 4, policy: { scaleUpDelay: 100 } },
        'autoscale.policy.scaleUpDelay',
        'accepted: the typo is ignored',
      ],
    ] as const
  ).map(([input, options, option]): Row => ({
    entry: 'new Autoscaler',
    input,
    call: () => new Autoscaler(new Dispatcher({ lanes: 2, maxLanes: 8 }), options as never),
    error: InvalidOptionError,
    option,
    says: /expected/,
  })),

  // ---------------------------------------------------------------- WorkerPoolHealthIndicator.isHealthy
  ...(
    [
      ['maxQueuedPerLane -1', { maxQueuedPerLane: -1 }, 'maxQueuedPerLane'],
      ['maxQueuedPerLane NaN', { maxQueuedPerLane: NaN }, 'maxQueuedPerLane'],
      ["maxQueuedPerLane 'many'", { maxQueuedPerLane: 'many' }, 'maxQueuedPerLane'],
      ['maxOldestWaitMs -1', { maxOldestWaitMs: -1 }, 'maxOldestWaitMs'],
    ] as const
  ).map(([input, options, option]): Row => ({
    entry: 'isHealthy',
    input,
    call: () => health().isHealthy('pool', options as never),
    error: InvalidOptionError,
    option,
    says: /expected a number >= 0\.$/,
  })),
  {
    entry: 'isHealthy',
    input: "pool 'nope' (not registered)",
    call: () => health().isHealthy('pool', { pool: 'nope' }),
    error: UnknownPoolError,
    says: /nope/,
  },
  {
    entry: 'isHealthy',
    input: 'options null',
    call: () => health().isHealthy('pool', null as never),
    error: InvalidOptionError,
    option: 'options',
    says: /object/,
  },
  {
    entry: 'isHealthy',
    input: 'unknown option { maxQueued: 5 }',
    call: () => health().isHealthy('pool', { maxQueued: 5 } as never),
    error: InvalidOptionError,
    option: 'maxQueued',
    says: /no such option/,
  },
];

/** The error a call throws or its promise rejects with, or undefined. */
async function thrown(call: () => unknown): Promise<unknown> {
  try {
    await call();
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('bad-input catalogue', () => {
  const title = (r: Row) =>
    `${r.entry}: ${r.input} -> ${r.error.name}${r.option ? ` "${r.option}"` : ''}${r.gap ? ` [gap: ${r.gap}]` : ''}`;

  for (const row of rows) {
    (row.gap ? it.failing : it)(title(row), async () => {
      const error = await thrown(row.call);
      expect(error).toBeInstanceOf(row.error);
      expect(error).toBeInstanceOf(WorkerPoolError);
      const e = error as WorkerPoolError;
      expect(e.name).toBe(row.error.name);
      expect(e.code).toMatch(/^[A-Z_]+$/);
      expect(e.code).not.toBe('WORKER_POOL_ERROR');
      if (row.option !== undefined) {
        expect((e as InvalidOptionError).option).toBe(row.option);
        expect(e.message).toContain(`Invalid option "${row.option}": got `);
      }
      expect(e.message).toMatch(row.says);
    });
  }

  it('covers every entry point', () => {
    expect(new Set(rows.map((r) => r.entry.replace(/ \(at startup\)$/, '')))).toEqual(
      new Set([
        'new Dispatcher',
        'registerHandler',
        'submit',
        'enqueue',
        'resize',
        'addLane',
        'removeLane',
        'drain',
        '@TaskHandler',
        'forRoot',
        'forRootAsync',
        'new Autoscaler',
        'isHealthy',
      ]),
    );
  });

  it('lists every exported error class in the error table of docs/errors.md', () => {
    const table = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const documented = new Set([...table.matchAll(/^\| `(\w+)`/gm)].map((m) => m[1]));
    const exported = Object.entries(api)
      .filter(
        ([, value]) => typeof value === 'function' && value.prototype instanceof WorkerPoolError,
      )
      .map(([name]) => name)
      .sort();
    expect(exported.length).toBeGreaterThan(5);
    expect(exported.filter((name) => !documented.has(name))).toEqual([]);
  });
});

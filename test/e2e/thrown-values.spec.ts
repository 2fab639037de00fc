import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Injectable, Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Dispatcher, TaskHandler, WorkerPoolModule } from '../../lib/index.js';

/**
 * The Nest layer's report of a failure nobody awaited survives any thrown value: a revoked
 * Proxy (its `instanceof` check and every read throw) or an Error whose getters throw is
 * still logged once (the engine swallows a throwing reporter, so a throw here lost the line).
 */

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

function errorWithThrowingGetters(): Error {
  const error = new Error('hidden');
  // The stack first: defining it formats the lazy stack, which reads the message.
  for (const key of ['stack', 'message'])
    Object.defineProperty(error, key, {
      get() {
        throw new Error(`read of ${key}`);
      },
    });
  return error;
}

afterEach(() => jest.restoreAllMocks());

describe('a failure nobody awaits, of a value that cannot be inspected', () => {
  it.each<[string, () => unknown, RegExp]>([
    [
      'a revoked Proxy',
      revoked,
      /nobody awaited it: a value that cannot be read \(a revoked Proxy\?\)$/,
    ],
    [
      'an Error whose getters throw',
      errorWithThrowingGetters,
      /nobody awaited it: \[object Error\]$/,
    ],
  ])('is logged once: %s', async (_, make, says) => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    @Injectable()
    class Odd {
      @TaskHandler('odd')
      run(): never {
        throw make();
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [WorkerPoolModule.forRoot({ lanes: 1 })],
      providers: [Odd],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const pool = app.get(Dispatcher);
    await pool.enqueue('odd', null);
    await app.close(); // drains: the failure has been reported by then
    expect(logged).toHaveBeenCalledTimes(1);
    expect(String(logged.mock.calls[0][0])).toMatch(
      /^Task 1 \(odd\) failed and nobody awaited it: /,
    );
    expect(String(logged.mock.calls[0][0])).toMatch(says);
  });
});

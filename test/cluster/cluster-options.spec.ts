// Cluster options and payload checks need no database and no pg-boss: they run on every Node,
// and bad input is refused by name at construction, before anything connects.
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from '@jest/globals';
import { Dispatcher, InvalidOptionError } from '../../lib/core/index.js';
import { Cluster, ClusterDependencyError } from '../../lib/cluster/index.js';
import { findNotJson } from '../../lib/cluster/json.js';
import { clusterSupported } from '../support/cluster.js';

const url = 'postgres://postgres@127.0.0.1:5432/postgres';

function refused(options: unknown): InvalidOptionError {
  try {
    new Cluster(new Dispatcher(), options as never);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('the options were accepted');
}

describe('cluster options', () => {
  it('names the bad option, prefixed cluster.', () => {
    expect(refused({}).option).toBe('cluster.connectionString');
    expect(refused({ connectionString: url, boss: {} }).option).toBe('cluster.connectionString');
    expect(refused({ connectionString: 'localhost:5432' }).message).toMatch(
      /"cluster\.connectionString".*postgres:\/\/user:password@127\.0\.0\.1:5432\/database/,
    );
    expect(refused({ boss: { start() {} } }).option).toBe('cluster.boss');
    expect(refused({ connectionString: url, shards: 0 }).option).toBe('cluster.shards');
    expect(refused({ connectionString: url, shards: '4' }).message).toMatch(/Number\(config\.get/);
    expect(refused({ connectionString: url, onFailure: 'skip' }).option).toBe('cluster.onFailure');
    expect(refused({ connectionString: url, heartbeatSeconds: 5 }).option).toBe(
      'cluster.heartbeatSeconds',
    );
    expect(refused({ connectionString: url, retry: { limit: -1 } }).option).toBe(
      'cluster.retry.limit',
    );
    expect(refused({ connectionString: url, retry: { tries: 3 } }).option).toBe(
      'cluster.retry.tries',
    );
    expect(refused({ connectionString: url, queuePrefix: 'a b' }).option).toBe(
      'cluster.queuePrefix',
    );
    expect(refused({ connectionString: url, pollIntervalMs: 0 }).option).toBe(
      'cluster.pollIntervalMs',
    );
    expect(refused({ connectionString: url, poolSize: 0 }).option).toBe('cluster.poolSize');
    expect(refused({ boss: { fetch() {} }, poolSize: 4 }).message).toMatch(
      /"cluster\.poolSize".*no poolSize with cluster\.boss/,
    );
    expect(refused({ connectionString: url, fetchbatchSize: 5 }).message).toMatch(
      /"cluster\.fetchbatchSize".*known options:.*fetchBatchSize/,
    );
  });

  it('a batch handler is refused in cluster mode (it would get the queue envelope)', () => {
    const c = new Cluster(new Dispatcher(), { connectionString: url });
    expect(() => c.registerHandler('b', () => {}, { batch: { maxSize: 10 } } as never)).toThrow(
      InvalidOptionError,
    );
  });

  (clusterSupported ? it.skip : it)(
    'on Node < 22.12 start() fails with ClusterDependencyError before loading pg-boss',
    async () => {
      const c = new Cluster(new Dispatcher(), { connectionString: url });
      const error = await c.start().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClusterDependencyError);
      expect((error as Error).message).toMatch(/Node >= 22\.12: this is Node 20\./);
    },
  );
});

describe('findNotJson', () => {
  it('accepts what JSON keeps, undefined properties included', () => {
    for (const ok of [
      null,
      0,
      -1.5,
      'x',
      true,
      [],
      {},
      [1, 'a', null, { b: [] }],
      { a: undefined },
    ]) {
      expect(findNotJson(ok, 'payload')).toBeUndefined();
    }
    expect(findNotJson(undefined, 'payload')).toBeUndefined();
    expect(findNotJson(Object.create(null), 'payload')).toBeUndefined();
  });

  it("accepts plain objects of another realm (a thread's result received under Jest's vm context), and refuses its Map", () => {
    expect(findNotJson(runInNewContext('({ a: { b: [1, {}] } })'), 'result')).toBeUndefined();
    expect(findNotJson(runInNewContext('({ a: new Map() })'), 'result')).toEqual({
      path: 'result.a',
      found: 'a Map',
    });
  });

  it('finds the first place JSON would change or refuse, with its path', () => {
    const shared = { x: 1 };
    expect(findNotJson({ a: [shared, shared] }, 'payload')).toBeUndefined(); // shared, not circular
    expect(findNotJson({ a: NaN }, 'p')).toEqual({ path: 'p.a', found: 'the number NaN' });
    expect(findNotJson({ a: [1, Infinity] }, 'p')).toEqual({
      path: 'p.a[1]',
      found: 'the number Infinity',
    });
    expect(findNotJson({ 'a-b': new Map() }, 'p')).toEqual({ path: 'p["a-b"]', found: 'a Map' });
    expect(findNotJson({ f() {} }, 'p')).toEqual({ path: 'p.f', found: 'a function' });
    expect(findNotJson(Symbol('s'), 'p')).toEqual({ path: 'p', found: 'a symbol' });
    class Point {}
    expect(findNotJson([new Point()], 'p')).toEqual({ path: 'p[0]', found: 'a Point' });
  });
});

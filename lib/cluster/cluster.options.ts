/**
 * Cluster mode's options, their defaults, and their checks: every bad option is refused at
 * construction with InvalidOptionError naming it (as `cluster.<name>`), before any connection.
 */
import { InvalidOptionError } from '../core/errors.js';
import { checkObject, intInRange } from '../core/options.js';

/** What happens to a session whose task failed on its last attempt. */
export type ClusterOnFailure = 'block' | 'dead-letter';

export interface ClusterRetryOptions {
  /** Attempts after the first, on any replica. Default 2 (pg-boss's). A replica that dies holding a task uses one. */
  limit?: number;
  /** Seconds between attempts. Default 0. The session waits, held, meanwhile. */
  delaySeconds?: number;
  /** Doubles the delay at each attempt (with jitter). Default false. */
  backoff?: boolean;
}

/**
 * A PgBoss instance (pg-boss 12). Typed by the methods cluster mode calls, loosely, so that
 * this package's types never need pg-boss's: an app without cluster mode need not install it.
 */
export interface PgBossInstance {
  fetch: unknown;
  send: unknown;
  complete: unknown;
  fail: unknown;
  touch: unknown;
  createQueue: unknown;
}

export interface ClusterOptions {
  /** The PostgreSQL database holding the queues, e.g. `postgres://user:pw@127.0.0.1:5432/app`. Or give `boss`. */
  connectionString?: string;
  /**
   * A PgBoss instance the app already has, started; the app stops it after the pool. The
   * pool then never starts or stops it.
   */
  boss?: PgBossInstance;
  /**
   * Queues the sessions are spread over by hash, so a fetch scans only a share of the
   * waiting sessions. Default 4. Every replica must use the same value, and changing it
   * while tasks wait moves sessions to other queues: drain the queues first.
   */
  shards?: number;
  /**
   * The PostgreSQL schema of pg-boss's tables. Default 'pgboss' (pg-boss's). With `boss`, give
   * the schema that instance was made with.
   */
  schema?: string;
  /** Prefix of the queue names (`<prefix>.<shard>`, `<prefix>.dead`). Default 'nwp'. */
  queuePrefix?: string;
  /** Most tasks one fetch takes from one shard. Default 50. */
  fetchBatchSize?: number;
  /** Most tasks this replica holds at once (fetched and not yet settled). Default 200. */
  maxHeld?: number;
  /**
   * How often an idle shard is polled, in ms. Default 500. A task this replica stores, or one
   * that finishes here, wakes its shard's fetch at once; tasks other replicas store wait for it.
   */
  pollIntervalMs?: number;
  /** Queue retries (the in-process `retry` of a handler is not applied to cluster tasks). */
  retry?: ClusterRetryOptions;
  /**
   * A session whose task failed on its last attempt: 'block' (default) holds the session,
   * its later tasks wait until the failed one is retried or deleted; 'dead-letter' moves the
   * task to the `<prefix>.dead` queue and lets the session go on.
   */
  onFailure?: ClusterOnFailure;
  /**
   * The replica refreshes each task it holds every heartbeatSeconds / 2; a task not refreshed
   * for heartbeatSeconds (its replica died) runs again elsewhere. At least 10. Default 30.
   */
  heartbeatSeconds?: number;
  /**
   * How often pg-boss's supervisor looks for tasks whose heartbeat lapsed (and refreshes its
   * queue counts), in seconds, when the pool opened the connection (with `boss`, the app's
   * instance decides). A dead replica's tasks run again within heartbeatSeconds plus this.
   * Default 60 (pg-boss's).
   */
  monitorIntervalSeconds?: number;
  /** How long submit() awaits a result by default, in ms. Default 30_000. */
  submitTimeoutMs?: number;
  /**
   * Connections the pool opens to the database (pg-boss's `max`), besides one for LISTEN.
   * Default 10 (pg-boss's). Each shard has up to three statements under way (a fetch, a store,
   * a completion): more shards may want more, within the server's max_connections over all
   * replicas. Not with `boss` (that instance's own `max` applies).
   */
  poolSize?: number;
  /** Errors of the background work (a fetch or a completion that failed). Default: console.error. */
  onError?: (error: unknown) => void;
}

export interface ResolvedClusterOptions {
  readonly connectionString: string | undefined;
  readonly boss: PgBossInstance | undefined;
  readonly shards: number;
  readonly queuePrefix: string;
  readonly schema: string;
  readonly fetchBatchSize: number;
  readonly maxHeld: number;
  readonly pollIntervalMs: number;
  readonly retry: Required<ClusterRetryOptions>;
  readonly onFailure: ClusterOnFailure;
  readonly heartbeatSeconds: number;
  readonly monitorIntervalSeconds: number;
  readonly submitTimeoutMs: number;
  readonly poolSize: number;
  readonly onError: (error: unknown) => void;
}

const KEYS = [
  'connectionString',
  'boss',
  'shards',
  'queuePrefix',
  'schema',
  'fetchBatchSize',
  'maxHeld',
  'pollIntervalMs',
  'retry',
  'onFailure',
  'heartbeatSeconds',
  'monitorIntervalSeconds',
  'submitTimeoutMs',
  'poolSize',
  'onError',
];
const RETRY_KEYS = ['limit', 'delaySeconds', 'backoff'];

export function resolveClusterOptions(options: ClusterOptions): ResolvedClusterOptions {
  checkObject(
    'cluster',
    options,
    "an object such as { connectionString: 'postgres://127.0.0.1:5432/app' }",
    KEYS,
  );
  const { connectionString, boss } = options;
  if ((connectionString === undefined) === (boss === undefined)) {
    throw new InvalidOptionError(
      'cluster.connectionString',
      connectionString,
      'a postgres:// connection string, or else a started PgBoss instance as cluster.boss (one of the two)',
    );
  }
  if (
    connectionString !== undefined &&
    (typeof connectionString !== 'string' || !/^postgres(ql)?:\/\//.test(connectionString))
  ) {
    throw new InvalidOptionError(
      'cluster.connectionString',
      connectionString,
      'a string such as postgres://user:password@127.0.0.1:5432/database',
    );
  }
  if (
    boss !== undefined &&
    (boss === null || typeof (boss as { fetch?: unknown }).fetch !== 'function')
  ) {
    throw new InvalidOptionError(
      'cluster.boss',
      boss,
      'a started PgBoss instance (new PgBoss(...), then await start())',
    );
  }
  if (boss !== undefined && options.poolSize !== undefined) {
    throw new InvalidOptionError(
      'cluster.poolSize',
      options.poolSize,
      'no poolSize with cluster.boss: that instance has its own pool (its `max` option)',
    );
  }
  const queuePrefix = options.queuePrefix ?? 'nwp';
  if (typeof queuePrefix !== 'string' || !/^[\w\-/]+(\.[\w\-/]+)*$/.test(queuePrefix)) {
    throw new InvalidOptionError(
      'cluster.queuePrefix',
      queuePrefix,
      'a non-empty string of letters, digits, _, -, / and single dots',
    );
  }
  const schema = options.schema ?? 'pgboss';
  if (typeof schema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new InvalidOptionError(
      'cluster.schema',
      schema,
      'a PostgreSQL schema name of lower-case letters, digits and _',
    );
  }
  const onFailure = options.onFailure ?? 'block';
  if (onFailure !== 'block' && onFailure !== 'dead-letter') {
    throw new InvalidOptionError('cluster.onFailure', onFailure, "'block' or 'dead-letter'");
  }
  const retry = options.retry ?? {};
  checkObject(
    'cluster.retry',
    retry,
    'an object such as { limit: 2, delaySeconds: 5 }',
    RETRY_KEYS,
  );
  const backoff = retry.backoff ?? false;
  if (typeof backoff !== 'boolean')
    throw new InvalidOptionError('cluster.retry.backoff', backoff, 'true or false');
  const onError =
    options.onError ?? ((error: unknown) => console.error('[nest-worker-pool cluster]', error));
  if (typeof onError !== 'function')
    throw new InvalidOptionError('cluster.onError', onError, 'a function (error) => void');
  const fetchBatchSize = intInRange(
    'cluster.fetchBatchSize',
    options.fetchBatchSize ?? 50,
    1,
    10_000,
  );
  return {
    connectionString,
    boss,
    shards: intInRange('cluster.shards', options.shards ?? 4, 1, 1024),
    queuePrefix,
    schema,
    fetchBatchSize,
    maxHeld: intInRange(
      'cluster.maxHeld',
      options.maxHeld ?? Math.max(200, fetchBatchSize),
      1,
      1_000_000,
    ),
    pollIntervalMs: intInRange(
      'cluster.pollIntervalMs',
      options.pollIntervalMs ?? 500,
      10,
      3_600_000,
    ),
    retry: {
      limit: intInRange('cluster.retry.limit', retry.limit ?? 2, 0, 1_000_000),
      delaySeconds: intInRange(
        'cluster.retry.delaySeconds',
        retry.delaySeconds ?? 0,
        0,
        86_400 * 365,
      ),
      backoff,
    },
    onFailure,
    heartbeatSeconds: intInRange(
      'cluster.heartbeatSeconds',
      options.heartbeatSeconds ?? 30,
      10,
      86_400,
    ),
    monitorIntervalSeconds: intInRange(
      'cluster.monitorIntervalSeconds',
      options.monitorIntervalSeconds ?? 60,
      1,
      3_600,
    ),
    submitTimeoutMs: intInRange(
      'cluster.submitTimeoutMs',
      options.submitTimeoutMs ?? 30_000,
      1,
      2 ** 31 - 1,
    ),
    poolSize: intInRange('cluster.poolSize', options.poolSize ?? 10, 1, 10_000),
    onError,
  };
}

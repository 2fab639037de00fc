/** What a replica's cluster mode counts (this replica only; Cluster.clusterStats() reads the whole cluster). */
export interface FetcherCounts {
  /** fetch() calls made. */
  fetches: number;
  /** Jobs fetched. */
  fetched: number;
  /** Jobs completed (written; not one whose claim had lapsed, which another replica then holds). */
  completed: number;
  /** Attempts failed (written, as completed is; the queue retries them, or they block or go to dead letter). */
  failed: number;
  /** Jobs handed back to their queue by a drain (cancelled at its deadline; no attempt used; written, as completed is). */
  handedBack: number;
  /** Outcomes that could not be written (the job runs again elsewhere after its heartbeat). */
  writeErrors: number;
}

export interface ClusterStats extends FetcherCounts {
  /** Jobs this replica holds now (fetched, outcome not yet written). */
  held: number;
}

/** The whole cluster as the database sees it now (every replica's tasks, not only this one's). */
export interface ClusterWideStats {
  /** Tasks waiting (created, or waiting to retry), over all shards. */
  queued: number;
  /** Tasks running on some replica. */
  active: number;
  /** How long the oldest waiting task has waited (0 when none waits). */
  oldestWaitMs: number;
  /** Sessions held by a task that failed for good (onFailure 'block'): retrySession or skipSession them. */
  blockedSessions: string[];
  /** Live pg-boss instances of this cluster's replicas (those that opened their own connection). */
  replicas: number;
}

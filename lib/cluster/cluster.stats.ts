/** What a replica's cluster mode counts (this replica only; cluster-wide figures come later). */
export interface FetcherCounts {
  /** fetch() calls made. */
  fetches: number;
  /** Jobs fetched. */
  fetched: number;
  /** Jobs completed (written). */
  completed: number;
  /** Attempts failed (written; the queue retries them, or they block or go to dead letter). */
  failed: number;
  /** Outcomes that could not be written (the job runs again elsewhere after its heartbeat). */
  writeErrors: number;
}

export interface ClusterStats extends FetcherCounts {
  /** Jobs this replica holds now (fetched, outcome not yet written). */
  held: number;
}

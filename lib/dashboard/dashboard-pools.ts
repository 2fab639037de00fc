import { Injectable, NotFoundException } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { WorkerPoolRef } from '../worker-pool.ref.js';

/**
 * Every pool of the app, found once among the providers (each pool's module registers its
 * WorkerPoolRef, under two tokens: listed once here, in the order they were registered).
 */
@Injectable()
export class DashboardPools {
  private found: WorkerPoolRef[] | undefined;

  constructor(private readonly discovery: DiscoveryService) {}

  all(): WorkerPoolRef[] {
    if (this.found !== undefined) return this.found;
    const byName = new Map<string, WorkerPoolRef>();
    for (const w of this.discovery.getProviders()) {
      if (w.instance instanceof WorkerPoolRef && !byName.has(w.instance.name)) {
        byName.set(w.instance.name, w.instance);
      }
    }
    this.found = [...byName.values()];
    return this.found;
  }

  /** The named pool, or a 404 that lists the pools there are. */
  get(name: unknown): WorkerPoolRef {
    const pool = this.all().find((p) => p.name === name);
    if (pool !== undefined) return pool;
    const known = this.all()
      .map((p) => `"${p.name}"`)
      .join(', ');
    throw new NotFoundException(`No pool named ${JSON.stringify(name)} (pools: ${known}).`);
  }
}

import { type DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { DashboardAssets } from './dashboard-assets.js';
import { dashboardController } from './dashboard.controller.js';
import { type WorkerPoolDashboardOptions, resolveDashboardOptions } from './dashboard-options.js';
import { DashboardPools } from './dashboard-pools.js';
import { SnapshotSource } from './snapshot-source.js';

/**
 * A live web page of every pool in the app: lanes, latency, autoscaler decisions, health.
 * Read-only unless `actions: true`; put it behind a `guard`. Nothing of it loads without it.
 *
 * ```ts
 * imports: [WorkerPoolModule.forRoot(), WorkerPoolDashboardModule.forRoot({ guard: AdminGuard })]
 * ```
 */
@Module({})
export class WorkerPoolDashboardModule {
  static forRoot(options: WorkerPoolDashboardOptions = {}): DynamicModule {
    const resolved = resolveDashboardOptions(options);
    return {
      module: WorkerPoolDashboardModule,
      imports: [DiscoveryModule, ...resolved.imports],
      controllers: [dashboardController(resolved)],
      providers: [
        DashboardPools,
        {
          provide: SnapshotSource,
          useFactory: (pools: DashboardPools) => new SnapshotSource(() => pools.all()),
          inject: [DashboardPools],
        },
        { provide: DashboardAssets, useFactory: () => new DashboardAssets(resolved) },
      ],
    };
  }
}

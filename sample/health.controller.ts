import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { Cluster, InjectCluster } from '../lib/index.js';
import { WorkerPoolHealthIndicator } from '../lib/health/index.js';

@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly pool: WorkerPoolHealthIndicator,
    @InjectCluster() private readonly cluster: Cluster | null,
  ) {}

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.pool.isHealthy('workerPool'),
      // Cluster mode: the queues in PostgreSQL, counted across every replica.
      ...(this.cluster === null ? [] : [() => this.pool.isClusterHealthy('cluster')]),
    ]);
  }
}

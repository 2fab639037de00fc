import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import {
  Autoscaler,
  Dispatcher,
  InjectAutoscaler,
  InjectDispatcher,
  TaskHandler,
  UnknownPoolError,
  WorkerPoolModule,
} from '../../lib/index.js';

/**
 * A pool registered once (forRoot, not global) and used from feature modules that import
 * WorkerPoolModule.forFeature(name?), as BullModule.registerQueue / TypeOrmModule.forFeature.
 */

@Injectable()
class Orders {
  @TaskHandler('order.place')
  place(id: number): string {
    return `order ${id} placed`;
  }
}

@Injectable()
class OrderService {
  constructor(
    readonly pool: Dispatcher,
    @InjectAutoscaler() readonly scaler: Autoscaler | null,
  ) {}
  place(id: number) {
    return this.pool.submit<string>('order.place', id, { sessionId: `customer-${id % 3}` });
  }
}

@Module({ imports: [WorkerPoolModule.forFeature()], providers: [Orders, OrderService] })
class OrdersModule {}

@Injectable()
class Reports {
  @TaskHandler('render', { pool: 'reports' })
  render(id: number): string {
    return `report ${id}`;
  }
}

@Injectable()
class ReportService {
  constructor(@InjectDispatcher('reports') readonly pool: Dispatcher) {}
}

@Module({ imports: [WorkerPoolModule.forFeature('reports')], providers: [Reports, ReportService] })
class ReportsModule {}

async function boot(imports: unknown[]) {
  const moduleRef = await Test.createTestingModule({ imports: imports as never[] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('WorkerPoolModule.forFeature (e2e)', () => {
  it("makes a pool's Dispatcher and Autoscaler injectable in feature modules, by name", async () => {
    const app = await boot([
      ScheduleModule.forRoot(),
      WorkerPoolModule.forRoot({ lanes: 2, autoscale: { min: 1, max: 4 } }),
      WorkerPoolModule.forRoot({ name: 'reports', lanes: 1 }),
      OrdersModule,
      ReportsModule,
    ]);
    const orders = app.get(OrderService);
    await expect(Promise.all([1, 2, 3].map((id) => orders.place(id)))).resolves.toEqual([
      'order 1 placed',
      'order 2 placed',
      'order 3 placed',
    ]);
    // The very pool the root module registered, not a copy.
    expect(orders.pool).toBe(app.get(Dispatcher, { strict: false }));
    expect(orders.scaler).toBeInstanceOf(Autoscaler);
    const reports = app.get(ReportService).pool;
    expect(reports).not.toBe(orders.pool);
    await expect(reports.submit('render', 7)).resolves.toBe('report 7');
    expect(reports.handlerTypes()).toEqual(['render']);
    await app.close();
    expect(orders.pool.stats().state).toBe('stopped');
    expect(reports.stats().state).toBe('stopped');
  });

  it('fails startup naming the pool when forFeature names one that is not registered', async () => {
    await expect(
      boot([WorkerPoolModule.forRoot({ name: 'reports' }), OrdersModule]),
    ).rejects.toThrow(UnknownPoolError);
    await expect(
      boot([WorkerPoolModule.forRoot({ name: 'reports' }), OrdersModule]),
    ).rejects.toThrow(
      `WorkerPoolModule.forFeature() names pool "default", but no such pool is registered. Add WorkerPoolModule.forRoot({ name: 'default' }) or fix the pool name.`,
    );
  });
});

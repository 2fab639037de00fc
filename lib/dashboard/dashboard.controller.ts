import {
  Body,
  ConflictException,
  Controller,
  ForbiddenException,
  Get,
  Header,
  Headers,
  HttpCode,
  Inject,
  type MessageEvent,
  NotFoundException,
  Param,
  Post,
  Query,
  Req,
  Res,
  Sse,
  type Type,
  UnsupportedMediaTypeException,
  BadRequestException,
  UseGuards,
} from '@nestjs/common';
import type { Observable } from 'rxjs';
import type { SessionInfo } from '../core/index.js';
import { DashboardAssets } from './dashboard-assets.js';
import type { ResolvedDashboardOptions } from './dashboard-options.js';
import { DashboardPools } from './dashboard-pools.js';
import { SnapshotSource } from './snapshot-source.js';

/** Actions refused, and how to turn them on. */
const READ_ONLY =
  'This pool dashboard is read-only. Enable actions with WorkerPoolDashboardModule.forRoot({ actions: true }), behind a guard.';

// Security headers of every answer: no framing, no sniffing, scripts only from this page.
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'";

type Reply = {
  setHeader?(name: string, value: string): unknown; // Express
  header?(name: string, value: string): unknown; // Fastify
  status?(code: number): unknown;
  code?(code: number): unknown;
  send(body: string): unknown;
};

/**
 * The dashboard's routes, under the configured path, behind the configured guard. A class made
 * per `forRoot`, because Nest reads the path and the guards from class decorators.
 */
export function dashboardController(options: ResolvedDashboardOptions): Type {
  const guards = options.guard === undefined ? [] : [options.guard];

  @Controller(options.path)
  @UseGuards(...guards)
  class WorkerPoolDashboardController {
    constructor(
      @Inject(SnapshotSource) private readonly source: SnapshotSource,
      @Inject(DashboardPools) private readonly pools: DashboardPools,
      @Inject(DashboardAssets) private readonly assets: DashboardAssets,
    ) {}

    @Get()
    @Header('content-type', 'text/html; charset=utf-8')
    @Header('cache-control', 'no-store')
    @Header('content-security-policy', CSP)
    @Header('x-content-type-options', 'nosniff')
    page(@Req() req: { originalUrl?: string; url: string }): string {
      const path = (req.originalUrl ?? req.url).split('?')[0].replace(/\/+$/, '');
      return this.assets.page(`${path}/`);
    }

    @Get('assets/:file')
    asset(@Param('file') file: string, @Res() res: Reply): void {
      const asset = this.assets.files.get(file);
      if (asset === undefined) throw new NotFoundException(`No dashboard asset named ${file}.`);
      set(res, 'content-type', asset.type);
      set(res, 'cache-control', 'public, max-age=300');
      set(res, 'x-content-type-options', 'nosniff');
      res.send(asset.body);
    }

    /** One snapshot of every pool per second, shared by all viewers, and pool events. */
    @Sse('events')
    events(): Observable<MessageEvent> {
      return this.source.stream();
    }

    @Get('session')
    session(@Query('pool') pool: string, @Query('id') id: string): SessionInfo {
      if (typeof id !== 'string' || id.length === 0) {
        throw new BadRequestException(
          'Give the session id to look up: ?pool=<pool>&id=<session id>.',
        );
      }
      return this.pools.get(pool).dispatcher.sessionInfo(id);
    }

    @Post('pools/:pool/pause')
    @HttpCode(200)
    pause(@Param('pool') name: string, @Headers('content-type') type: string | undefined) {
      const scaler = this.autoscalerOf(name, type);
      scaler.pause();
      return { paused: scaler.paused };
    }

    @Post('pools/:pool/resume')
    @HttpCode(200)
    resume(@Param('pool') name: string, @Headers('content-type') type: string | undefined) {
      const scaler = this.autoscalerOf(name, type);
      scaler.resume();
      return { paused: scaler.paused };
    }

    @Post('pools/:pool/resize')
    @HttpCode(202)
    resize(
      @Param('pool') name: string,
      @Headers('content-type') type: string | undefined,
      @Body() body: { lanes?: unknown } | undefined,
    ) {
      this.allow(type);
      const pool = this.pools.get(name).dispatcher;
      const lanes = body?.lanes;
      const max = pool.options.maxLanes;
      if (!Number.isInteger(lanes) || (lanes as number) < 1 || (lanes as number) > max) {
        throw new BadRequestException(
          `Give { "lanes": n } with n an integer from 1 to maxLanes (${max}).`,
        );
      }
      try {
        // Resolves once removed lanes have finished their running tasks: not awaited here.
        pool.resize(lanes as number).catch(() => undefined);
      } catch (error) {
        throw new BadRequestException((error as Error).message);
      }
      return { lanes };
    }

    private autoscalerOf(name: string, type: string | undefined) {
      this.allow(type);
      const scaler = this.pools.get(name).autoscaler;
      if (scaler === null) throw new ConflictException(`Pool "${name}" has no autoscaler.`);
      return scaler;
    }

    // JSON only: a cross-site form cannot send it without the browser asking first (CORS).
    private allow(type: string | undefined): void {
      if (!options.actions) throw new ForbiddenException(READ_ONLY);
      if (!type?.startsWith('application/json')) {
        throw new UnsupportedMediaTypeException('Send actions as application/json.');
      }
    }
  }
  return WorkerPoolDashboardController;
}

function set(res: Reply, name: string, value: string): void {
  if (typeof res.setHeader === 'function') res.setHeader(name, value);
  else res.header!(name, value);
}

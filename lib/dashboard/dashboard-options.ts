/** The dashboard's options, checked once at forRoot: a bad one fails startup with InvalidOptionError. */
import type { CanActivate, ExecutionContext, ModuleMetadata, Type } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { InvalidOptionError } from '../core/index.js';
import { checkKeys } from '../core/options.js';

/** A guard as a function: true lets the request through, false answers 403. */
export type DashboardGuardFn = (
  context: ExecutionContext,
) => boolean | Promise<boolean> | Observable<boolean>;

export interface WorkerPoolDashboardOptions {
  /** Where the page is served; the event stream and actions live under it. Default: '/pool'. */
  path?: string;
  /**
   * Enables the action endpoints (pause / resume an autoscaler, resize a pool). Default: false:
   * the page is read-only and every action request is answered 403.
   */
  actions?: boolean;
  /**
   * Guards the page, its assets, its event stream and its actions: a Nest guard class (resolved
   * by Nest, so it may inject what `imports` provides), a guard instance, or a function of the
   * ExecutionContext. The app's global guards (APP_GUARD) apply too.
   */
  guard?: Type<CanActivate> | CanActivate | DashboardGuardFn;
  /** Modules that provide what a guard class injects. */
  imports?: ModuleMetadata['imports'];
  /**
   * Lets a future payload view show task payloads (they may hold personal data). Default: false.
   * The page shows no payload today: only counts, lanes, latencies, decisions and the session
   * id a viewer types into the lookup box.
   */
  showPayloads?: boolean;
}

export interface ResolvedDashboardOptions {
  path: string;
  actions: boolean;
  guard: Type<CanActivate> | CanActivate | undefined;
  imports: NonNullable<ModuleMetadata['imports']>;
  showPayloads: boolean;
}

const KEYS = ['path', 'actions', 'guard', 'imports', 'showPayloads'];

export function resolveDashboardOptions(o: WorkerPoolDashboardOptions): ResolvedDashboardOptions {
  if (o === null || typeof o !== 'object') {
    throw new InvalidOptionError('options', o, "an object such as { path: '/pool' }");
  }
  checkKeys(o, KEYS);
  const { path = '/pool', actions = false, showPayloads = false, imports = [] } = o;
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~\-/]*$/.test(path) || path.includes('//')) {
    throw new InvalidOptionError('path', path, "a URL path starting with '/', such as '/pool'");
  }
  if (typeof actions !== 'boolean')
    throw new InvalidOptionError('actions', actions, 'true or false');
  if (typeof showPayloads !== 'boolean') {
    throw new InvalidOptionError('showPayloads', showPayloads, 'true or false');
  }
  if (!Array.isArray(imports))
    throw new InvalidOptionError('imports', imports, 'an array of modules');
  return {
    path: path.replace(/\/+$/, '') || '/',
    actions,
    showPayloads,
    imports,
    guard: guardOf(o.guard),
  };
}

function guardOf(g: unknown): Type<CanActivate> | CanActivate | undefined {
  if (g === undefined) return undefined;
  if (typeof g === 'function') {
    if (typeof g.prototype?.canActivate === 'function') return g as Type<CanActivate>;
    const fn = g as DashboardGuardFn;
    return { canActivate: (context) => fn(context) };
  }
  if (g !== null && typeof g === 'object' && typeof (g as CanActivate).canActivate === 'function') {
    return g as CanActivate;
  }
  throw new InvalidOptionError(
    'guard',
    g,
    'a guard class (implements CanActivate), a guard instance, or a function (context) => boolean',
  );
}

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DashboardSetupError } from '../worker-pool.errors.js';
import { uplotMissing } from '../worker-pool.messages.js';
import { APP_JS } from './assets/app.js.js';
import { pageHtml } from './assets/page.html.js';
import { STYLE_CSS } from './assets/style.css.js';

/** A file the dashboard serves: its body and content type. */
export interface Asset {
  body: string;
  type: string;
}

/**
 * The page's files, read once at startup: the page's own (TypeScript string modules, so the
 * build ships them) and uPlot's from node_modules (no CDN: the page works on a closed network).
 */
export class DashboardAssets {
  readonly files: ReadonlyMap<string, Asset>;

  constructor(private readonly flags: { actions: boolean }) {
    const require = createRequire(import.meta.url);
    let uplotJs: string;
    let uplotCss: string;
    try {
      uplotJs = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
      uplotCss = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
    } catch (error) {
      throw new DashboardSetupError(uplotMissing(), { cause: error });
    }
    this.files = new Map([
      ['app.js', { body: APP_JS, type: 'text/javascript; charset=utf-8' }],
      ['style.css', { body: STYLE_CSS, type: 'text/css; charset=utf-8' }],
      ['uplot.js', { body: uplotJs, type: 'text/javascript; charset=utf-8' }],
      ['uplot.css', { body: uplotCss, type: 'text/css; charset=utf-8' }],
    ]);
  }

  /** The page, with relative links resolved under `base` (the path it was requested at). */
  page(base: string): string {
    return pageHtml(escapeAttribute(base), this.flags.actions);
  }
}

function escapeAttribute(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

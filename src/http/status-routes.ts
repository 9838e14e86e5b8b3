/**
 * The status page's routes on the service's HTTP server: `/` (HTML) and the lag chart PNG, behind
 * optional basic auth (http.status_page.username/password). Read-only: GET/HEAD only (the server
 * refuses other methods).
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { lagChartPng } from '../charts/lag.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { SERIES } from '../series/samples.js';
import type { Sources } from '../sources/sources.js';
import { buildPageData } from '../status/page-data.js';
import { CSP, LAG_PNG_PATH, renderStatusPage } from '../status/page.js';
import type { StateStore } from '../store/store.js';

export interface RouteResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}
export type ExtraRoutes = (path: string, req: IncomingMessage) => Promise<RouteResponse | undefined>;

export interface StatusRoutesOptions {
  config: () => Config;
  sources: Sources;
  store: StateStore;
  now: () => number;
  logger: Logger;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** True when no credentials are configured, or the request carries them (compared in constant time). */
export function authorized(req: IncomingMessage, user: string | undefined, password: string | undefined): boolean {
  if (user === undefined || password === undefined) return true;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!, 'base64').toString('utf8');
  return timingSafeEqual(digest(given), digest(`${user}:${password}`));
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export function statusRoutes(o: StatusRoutesOptions): ExtraRoutes {
  return async (path, req): Promise<RouteResponse | undefined> => {
    const cfg = o.config().http.status_page;
    if (!cfg.enabled || (path !== '/' && path !== LAG_PNG_PATH)) return undefined;
    if (!authorized(req, cfg.username, cfg.password)) {
      return {
        status: 401,
        headers: {
          'www-authenticate': 'Basic realm="odoo-ha-watch status", charset="UTF-8"',
          'content-type': 'text/plain',
        },
        body: 'authentication required\n',
      };
    }
    const now = o.now();
    if (path === '/') {
      const html = renderStatusPage(await buildPageData(o.config(), o.sources, o.store, now));
      return {
        status: 200,
        headers: {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': CSP,
          'x-frame-options': 'DENY',
          ...SECURITY_HEADERS,
        },
        body: html,
      };
    }
    const from = now - cfg.lag_range;
    const samples = await o.store.samples([SERIES.lagBytes, SERIES.lagSeconds, SERIES.leader], from, now);
    const png = lagChartPng({ cluster: o.config().cluster.name, from, to: now, samples });
    return { status: 200, headers: { 'content-type': 'image/png', ...SECURITY_HEADERS }, body: png };
  };
}

import { createServer, type Server } from 'node:http';
import type { Metrics } from './metrics.js';
import type { ExtraRoutes } from './status-routes.js';

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface HealthServerOptions {
  listen: string;
  port: number;
  metrics: Metrics;
  readiness: () => Promise<ReadinessCheck[]>;
  /** Extra JSON endpoints (path → body), e.g. /ha with several watchers. */
  json?: Record<string, () => unknown>;
  /** More GET routes (the status page); undefined from it = not found. */
  routes?: ExtraRoutes;
}

/** /healthz (the process answers), /readyz (it can do its job), /metrics (Prometheus text). */
export async function startHealthServer(
  o: HealthServerOptions,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    let extra: Awaited<ReturnType<ExtraRoutes>>;
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const checks = await o.readiness();
        const ready = checks.every((c) => c.ok);
        res
          .writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
          .end(`${JSON.stringify({ ready, checks }, null, 2)}\n`);
      } else if (path === '/metrics') {
        res.writeHead(200, { 'content-type': o.metrics.registry.contentType }).end(await o.metrics.registry.metrics());
      } else if (o.json?.[path]) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(o.json[path](), null, 2)}\n`);
      } else {
        extra = o.routes ? await o.routes(path, req) : undefined;
        if (extra) res.writeHead(extra.status, extra.headers).end(req.method === 'HEAD' ? undefined : extra.body);
        else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz, /metrics\n');
      }
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`internal error: ${(e as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.listen, () => resolve());
  });
  const addr = server.address();
  return {
    server,
    port: typeof addr === 'object' && addr ? addr.port : o.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

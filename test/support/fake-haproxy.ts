/**
 * A loopback HAProxy stats page: `<stats uri>;csv` answers a recorded CSV (default: the lab's steady
 * state, backends pg_primary, pg_replicas, odoo_workers, stats), behind `stats auth` when asked.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface FakeHaproxy {
  /** The stats page URL to configure as sources.haproxy.stats_url. */
  statsUrl: string;
  requests: string[];
  close(): Promise<void>;
}

export async function startFakeHaproxy(
  o: { csv?: string; auth?: { username: string; password: string } } = {},
): Promise<FakeHaproxy> {
  const csv = o.csv ?? readFileSync(join(import.meta.dirname, '../fixtures/lab/haproxy-stats-steady.csv'), 'utf8');
  const expected = o.auth
    ? `Basic ${Buffer.from(`${o.auth.username}:${o.auth.password}`).toString('base64')}`
    : undefined;
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (expected && req.headers.authorization !== expected)
      return void res
        .writeHead(401, { 'www-authenticate': 'Basic realm="HAProxy Statistics"', 'content-type': 'text/html' })
        .end('<html><body><h1>401 Unauthorized</h1></body></html>');
    if (req.url !== '/stats;csv') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(csv);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    statsUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/stats`,
    requests,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

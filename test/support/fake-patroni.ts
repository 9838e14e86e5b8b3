/**
 * A loopback Patroni REST API for a whole cluster: member N answers under `/mN/` (`/patroni`,
 * `/cluster`, `/history`, `/config`) with `api_url` pointing back at itself, like a real member.
 * `version` decides what Patroni tells about itself: 3.0.x (Debian 12) has no member name in
 * `/patroni` and no scope in `/cluster`; 4.x has both.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface FakePatroniOptions {
  scope: string;
  /** Member names (patroni.yml `name`); the first is the leader. */
  members: string[];
  version?: '3.0.2' | '4.0.4';
  /** restapi.authentication: every request needs these basic-auth credentials. */
  auth?: { username: string; password: string };
}

export interface FakePatroni {
  /** Base URL of member i (0-based): `<url>/m<i+1>`. */
  memberUrl(i: number): string;
  requests: string[];
  close(): Promise<void>;
}

const patroniConfig = readFileSync(join(import.meta.dirname, '../fixtures/lab/patroni-config.json'), 'utf8');

export async function startFakePatroni(o: FakePatroniOptions): Promise<FakePatroni> {
  const version = o.version ?? '3.0.2';
  const v4 = version.startsWith('4.');
  const requests: string[] = [];
  let base = '';
  const expected = o.auth
    ? `Basic ${Buffer.from(`${o.auth.username}:${o.auth.password}`).toString('base64')}`
    : undefined;
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '';
    requests.push(url);
    if (expected && req.headers.authorization !== expected)
      return void res
        .writeHead(401, { 'www-authenticate': 'Basic realm="Patroni"', 'content-type': 'text/plain' })
        .end('no auth header received');
    const m = /^\/m(\d+)\/(patroni|cluster|history|config)$/.exec(url);
    const i = m ? Number(m[1]) - 1 : -1;
    if (!m || i >= o.members.length) return void res.writeHead(404).end();
    const json = (body: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const members = o.members.map((name, k) => ({
      name,
      role: k === 0 ? 'leader' : 'replica',
      state: k === 0 ? 'running' : 'streaming',
      api_url: `${base}/m${k + 1}/patroni`,
      host: '127.0.0.1',
      port: 15432 + k,
      timeline: 1,
      ...(k ? { lag: 0 } : {}),
    }));
    if (m[2] === 'cluster') return json({ members, ...(v4 ? { scope: o.scope } : {}) });
    if (m[2] === 'history') return json([]);
    if (m[2] === 'config') return void res.writeHead(200, { 'content-type': 'application/json' }).end(patroniConfig);
    return json({
      state: 'running',
      role: i === 0 ? (v4 ? 'primary' : 'master') : 'replica',
      timeline: 1,
      server_version: 150010,
      patroni: { version, scope: o.scope, ...(v4 ? { name: o.members[i] } : {}) },
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    memberUrl: (i) => `${base}/m${i + 1}`,
    requests,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

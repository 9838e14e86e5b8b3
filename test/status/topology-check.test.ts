import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { configSchema } from '../../src/config/schema.js';
import { reviewTopology } from '../../src/status/topology-check.js';
import { makeRule } from '../support/builders.js';
import { seedCluster, seedHost, seedServers, seedStats, type N } from '../support/seed-topology.js';

const ROOT = resolve(import.meta.dirname, '../..');
const lab = (f: string) => readFileSync(join(ROOT, 'test/fixtures/lab', f), 'utf8');
const config = configSchema.parse({
  sources: {
    patroni: { members: [{ name: 'pg-node-1', url: 'http://10.0.1.11:8008' }] },
    haproxy: { stats_url: 'http://lb:8404/stats', read_backend: 'pg_replicas', app_backends: ['odoo_workers'] },
  },
});

describe('topology review (check / start-up warning)', () => {
  test('seed names with addresses: every server matched, no warning', () => {
    const r = reviewTopology({ patroni: seedCluster(1), haproxy: seedStats(1, seedServers) }, config, []);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.matched, [
      'pg_primary: pg1=pg-node-1 (address), pg2=pg-node-2 (address), pg3=pg-node-3 (address)',
      'pg_replicas: pg1=pg-node-1 (address), pg2=pg-node-2 (address), pg3=pg-node-3 (address)',
    ]);
  });

  test('seed as published (stats page without show-legends: no addresses): one warning per server, with the fix', () => {
    const r = reviewTopology(
      { patroni: seedCluster(1), haproxy: seedStats(1, (n: N) => ({ name: `pg${n}`, addr: '' })) },
      config,
      [],
    );
    assert.equal(r.problems.length, 6);
    assert.match(
      r.problems[0]!,
      /^pg_primary: HAProxy server pg1 \(no address\) matches no Patroni member by address or name .*add `stats show-legends`.*sources\.haproxy\.socket.*server_members/,
    );
  });

  test('an explicit server_members map in the rule silences it; Odoo workers are checked against http targets', () => {
    const map = { pg1: 'pg-node-1', pg2: 'pg-node-2', pg3: 'pg-node-3' };
    const wb = makeRule({ id: 'wb', type: 'haproxy_write_backend', spec: { check_leader: true, server_members: map } });
    const http = makeRule({
      id: 'odoo',
      type: 'http',
      spec: { targets: [{ name: 'odoo1', url: 'http://127.0.0.1:18101/web/health' }] },
    });
    const stats = seedStats(1, (n: N) => ({ name: `pg${n}`, addr: '' }));
    const r = reviewTopology({ patroni: seedCluster(1), haproxy: stats }, config, [wb, http]);
    const workers = stats.backends.find((b) => b.name === 'odoo_workers')!.servers.map((s) => `${s.name}@${s.addr}`);
    assert.deepEqual(workers, ['odoo1@127.0.0.1:18101', 'odoo2@127.0.0.1:18102']);
    assert.deepEqual(r.problems, [
      'odoo_workers: Odoo worker odoo2 (127.0.0.1:18102) is probed by no http rule target; fix: add a target with its URL (host:port of the haproxy.cfg server line)',
    ]);
    assert.ok(r.matched.includes('odoo_workers: odoo1'), r.matched.join('\n'));
  });
});

/** Loopback Patroni (3 members under /m1../m3) and HAProxy stats page, answering like the real ones. */
async function fakeCluster(csv: string): Promise<{ url: string; close: () => Promise<void> }> {
  const cluster = seedCluster(1);
  const clusterJson = JSON.stringify({
    members: cluster.members.map((m) => ({
      name: m.name,
      role: m.isLeader ? 'leader' : 'replica',
      state: m.isLeader ? 'running' : 'streaming',
      host: m.host,
      port: m.port,
      api_url: m.apiUrl,
      timeline: 1,
      ...(m.isLeader ? {} : { lag: 0 }),
    })),
  });
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '';
    const json = (body: string) => res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    if (url === '/stats;csv') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(csv);
    const m = /^\/m([123])\/(patroni|cluster|history|config)$/.exec(url);
    if (!m) return void res.writeHead(404).end();
    if (m[2] === 'cluster') return json(clusterJson);
    if (m[2] === 'history') return json('[]');
    if (m[2] === 'config') return json(lab('patroni-config.json'));
    return json(
      JSON.stringify({
        state: 'running',
        role: m[1] === '1' ? 'master' : 'replica',
        timeline: 1,
        patroni: { version: '3.0.2', scope: 'odoo-cluster' },
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function runCheck(csv: string): Promise<{ code: number; out: string[] }> {
  const fake = await fakeCluster(csv);
  try {
    const dir = mkdtempSync(join(tmpdir(), 'ohw-topo-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      [
        `rules: { paths: [${JSON.stringify(join(ROOT, 'rules/haproxy.yaml'))}] }`,
        'sources:',
        '  patroni:',
        `    members: [${[1, 2, 3].map((n) => `{ name: pg-node-${n}, url: "${fake.url}/m${n}" }`).join(', ')}]`,
        '  haproxy:',
        `    stats_url: "${fake.url}/stats"`,
        '    write_backend: pg_primary',
      ].join('\n'),
    );
    const out: string[] = [];
    const code = await main(['check', '--config', file], { out: (s) => out.push(s), err: (s) => out.push(s) });
    return { code, out };
  } finally {
    await fake.close();
  }
}

describe('odoo-ha-watch check reports the topology when it can reach the sources', () => {
  test("HTTP stats without addresses (the seed's stats page): warnings with the fix, exit 0", async () => {
    const { code, out } = await runCheck(lab('haproxy-stats-steady.csv'));
    assert.equal(code, 0, out.join('\n'));
    const warnings = out.filter((l) => l.startsWith('topology WARNING:'));
    assert.equal(warnings.length, 3, out.join('\n'));
    assert.match(
      warnings[0]!,
      /pg_primary: HAProxy server pg1 \(no address\) matches no Patroni member .*stats show-legends/,
    );
  });

  test('with addresses (show-legends or the Runtime API): matched, no warning', async () => {
    const csv = lab('haproxy-show-stat-steady.csv').replace(
      /127\.0\.0\.1:1543([234])/g,
      (_, d: string) => `${seedHost((Number(d) - 1) as N)}:5432`,
    );
    const { code, out } = await runCheck(csv);
    assert.equal(code, 0, out.join('\n'));
    assert.deepEqual(
      out.filter((l) => l.startsWith('topology')),
      ['topology: pg_primary: pg1=pg-node-1 (address), pg2=pg-node-2 (address), pg3=pg-node-3 (address)'],
      out.join('\n'),
    );
  });
});

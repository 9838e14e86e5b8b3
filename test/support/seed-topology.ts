/**
 * The seed's topology (patroni.yml `name: pg-node-N`, haproxy.cfg `server pgN 10.0.1.1N:5432 check
 * port 8008`) as the service observes it, built from states recorded on the lab.
 */
import { readFileSync } from 'node:fs';
import { parseStatsCsv } from '../../src/sources/haproxy/csv.js';
import { toStats, type HaproxyStats } from '../../src/sources/haproxy/status.js';
import { mergeClusterState, type MemberPoll, type PatroniClusterState } from '../../src/sources/patroni/merge.js';
import { parseCluster, parseNodeStatus } from '../../src/sources/patroni/parse.js';

const lab = (f: string) => readFileSync(new URL(`../fixtures/lab/${f}`, import.meta.url), 'utf8');

export type N = 1 | 2 | 3;
/** The seed's hosts: pg-node-N at 10.0.1.1N, PostgreSQL 5432, REST 8008. */
export const seedHost = (n: N) => `10.0.1.1${n}`;

/** A healthy seed cluster as the service sees it: every member answers, `leader` leads. */
export function seedCluster(
  leader: N,
  opts: { names?: (n: N) => string; host?: (n: N) => string; port?: (n: N) => number } = {},
): PatroniClusterState {
  const name = opts.names ?? ((n: N) => `pg-node-${n}`);
  const host = opts.host ?? seedHost;
  const port = opts.port ?? (() => 5432);
  const nodes: N[] = [1, 2, 3];
  const clusterJson = JSON.stringify({
    members: nodes.map((n) => ({
      name: name(n),
      role: n === leader ? 'leader' : 'replica',
      state: n === leader ? 'running' : 'streaming',
      api_url: `http://${host(n)}:8008/patroni`,
      host: host(n),
      port: port(n),
      timeline: 1,
      ...(n === leader ? {} : { lag: 0 }),
    })),
  });
  const polls: MemberPoll[] = nodes.map((n) => ({
    name: name(n),
    url: `http://${host(n)}:8008`,
    status: {
      ok: true,
      value: parseNodeStatus(
        JSON.stringify({ state: 'running', role: n === leader ? 'master' : 'replica', timeline: 1 }),
      ),
    },
    cluster: { ok: true, value: parseCluster(clusterJson) },
  }));
  return mergeClusterState(polls, 0)!;
}

/** HAProxy `show stat` recorded on the lab, servers renamed/readdressed like haproxy.cfg says. */
export function seedStats(up: N, server: (n: N) => { name: string; addr: string }): HaproxyStats {
  const csv = lab('haproxy-show-stat-steady.csv');
  const rows = parseStatsCsv(csv);
  for (const r of rows) {
    if (r['pxname'] !== 'pg_primary' && r['pxname'] !== 'pg_replicas') continue;
    const m = /^pg([123])$/.exec(r['svname'] ?? '');
    if (!m) continue;
    const n = Number(m[1]) as N;
    r['svname'] = server(n).name;
    r['addr'] = server(n).addr;
    if (r['pxname'] === 'pg_primary') r['status'] = n === up ? 'UP' : 'DOWN';
  }
  return toStats(rows);
}
export const seedServers = (n: N) => ({ name: `pg${n}`, addr: `${seedHost(n)}:5432` });

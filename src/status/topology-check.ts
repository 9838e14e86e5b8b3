/**
 * The configuration review behind `odoo-ha-watch check` and the start-up warning: can every HAProxy
 * server, PostgreSQL node and Odoo worker be told apart and joined to its Patroni member (or http
 * target)? A problem here makes the joining comparisons unknown (never a page), so the operator
 * hears it once, with the fix, instead of through alerts.
 */
import type { Config } from '../config/schema.js';
import type { Rule } from '../rules/rule-type.js';
import type { HaproxyStats } from '../sources/haproxy/status.js';
import type { Observation } from '../sources/observation.js';
import type { PatroniClusterState } from '../sources/patroni/merge.js';
import type { PostgresState } from '../sources/postgres/client.js';
import type { Sources } from '../sources/sources.js';
import { matchHaproxyServers, matchPostgresNodes, matchWorkers, memberAddresses } from '../sources/topology.js';

export interface TopologyReport {
  /** Sources that could not be read (their joins were not checked), with why. */
  skipped: string[];
  /** Joins that worked: "pg_primary: pg1=pg-node-1 (address), …". */
  matched: string[];
  /** What cannot be joined, each with its fix. */
  problems: string[];
}

/** Pure: the review from one observation of each source (undefined = not configured or not reachable). */
export function reviewTopology(
  obs: { patroni?: PatroniClusterState; haproxy?: HaproxyStats; postgres?: PostgresState },
  config: Config,
  rules: readonly Rule[],
): Omit<TopologyReport, 'skipped'> {
  const matched: string[] = [];
  const problems: string[] = [];
  const members = obs.patroni ? memberAddresses(obs.patroni.members) : undefined;
  const absent = obs.patroni?.members.filter((m) => !m.inDcs).map((m) => m.name) ?? [];
  // A member missing from the DCS has no address there: its server may be unmatched for that reason only.
  const note = absent.length ? ` (not in the DCS now, address unknown: ${absent.join(', ')})` : '';
  const show = (m: ReturnType<typeof matchHaproxyServers>) =>
    [...m.members].map(([k, v]) => `${k === v.member ? k : `${k}=${v.member}`} (${v.how})`).join(', ');
  const hc = config.sources.haproxy;
  if (members && obs.haproxy && hc) {
    const explicit = Object.assign(
      {},
      ...rules
        .filter((r) => r.type === 'haproxy_write_backend')
        .map((r) => (r.spec as { server_members?: Record<string, string> }).server_members ?? {}),
    ) as Record<string, string>;
    for (const name of [hc.write_backend, hc.read_backend].filter((x): x is string => x !== undefined)) {
      const b = obs.haproxy.backends.find((x) => x.name === name);
      // A backend missing from the stats is a preflight finding (src/preflight), said once there.
      if (!b) continue;
      const m = matchHaproxyServers(b.servers, members, explicit);
      if (m.members.size) matched.push(`${name}: ${show(m)}`);
      problems.push(...m.problems.map((p) => `${name}: ${p.message}${p.kind === 'unmatched' ? note : ''}`));
    }
  }
  if (members && obs.postgres) {
    const m = matchPostgresNodes(obs.postgres.nodes, members);
    if (m.members.size) matched.push(`postgres nodes: ${show(m)}`);
    problems.push(...m.problems.map((p) => `sources.postgres: ${p.message}${p.kind === 'unmatched' ? note : ''}`));
  }
  const targets = rules
    .filter((r) => r.type === 'http' && r.enabled)
    .flatMap((r) => (r.spec as { targets: { name: string; url: string }[] }).targets);
  if (obs.haproxy && hc && targets.length) {
    const apps =
      hc.app_backends ??
      obs.haproxy.backends
        .map((b) => b.name)
        .filter((n) => n !== hc.write_backend && n !== hc.read_backend && n !== 'stats');
    for (const name of apps) {
      const b = obs.haproxy.backends.find((x) => x.name === name);
      if (!b) continue;
      const w = matchWorkers(b.servers, targets);
      if (w.targets.size)
        matched.push(`${name}: ${[...w.targets].map(([s, t]) => (s === t ? s : `${s}=${t}`)).join(', ')}`);
      for (const s of w.unmatched) {
        const addr = b.servers.find((x) => x.name === s)?.addr;
        problems.push(
          `${name}: Odoo worker ${s} (${addr ?? 'no address'}) is probed by no http rule target; fix: add a target with its URL (host:port of the haproxy.cfg server line)`,
        );
      }
    }
  }
  return { matched, problems };
}

const POLL_TIMEOUT_MS = 5000;

async function bounded<T>(
  poll: ((signal?: AbortSignal) => Promise<Observation<T>>) | undefined,
): Promise<Observation<T> | undefined> {
  if (!poll) return undefined;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`no answer within ${POLL_TIMEOUT_MS} ms`)), POLL_TIMEOUT_MS);
  try {
    return await poll(ac.signal);
  } catch (e) {
    return {
      ok: false,
      source: 'topology',
      at: new Date(),
      error: { kind: 'timeout', message: (e as Error)?.message ?? String(e) },
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Polls Patroni, HAProxy and PostgreSQL once (bounded) and reviews the topology. */
export async function checkTopology(config: Config, rules: readonly Rule[], sources: Sources): Promise<TopologyReport> {
  const [pat, hap, pg] = await Promise.all([
    bounded(sources.patroni?.poll),
    bounded(sources.haproxy?.poll),
    bounded(sources.postgres?.poll),
  ]);
  const skipped: string[] = [];
  for (const [name, o] of [
    ['patroni', pat],
    ['haproxy', hap],
    ['postgres', pg],
  ] as const)
    if (o && !o.ok) skipped.push(`${name}: ${o.error.kind}: ${o.error.message}`);
  const review = reviewTopology(
    {
      ...(pat?.ok ? { patroni: pat.value } : {}),
      ...(hap?.ok ? { haproxy: hap.value } : {}),
      ...(pg?.ok ? { postgres: pg.value } : {}),
    },
    config,
    rules,
  );
  return { skipped, ...review };
}

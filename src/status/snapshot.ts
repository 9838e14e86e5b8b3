import { formatWatchers } from '../ha/watchers.js';
import type { LeadershipView } from '../ha/leadership.js';
import type { Config } from '../config/schema.js';
import type { Sources } from '../sources/sources.js';
import { isNoIndexError, noIndexYet } from '../sources/elasticsearch/msearch-batcher.js';
import type { Observation } from '../sources/observation.js';
import { formatBytes } from '../sources/patroni/parse.js';
import { replicaLags } from '../rules/types/postgres.js';
import { matchHaproxyServers, matchPostgresNodes, memberAddresses } from '../sources/topology.js';
import type { StateStore } from '../store/store.js';

/** What /status and `odoo-ha-watch status` show. Each part says how old its data is, or why there is none. */
export interface StatusSnapshot {
  cluster: string;
  at: number;
  alerts: { firing: number; pending: number };
  /** One entry per configured or expected source, in display order. */
  sources: {
    name: string;
    state: 'ok' | 'no data' | 'not configured' | 'unreachable';
    detail?: string;
    ageMs?: number;
  }[];
  /** Merged Patroni view (absent when not configured or no member answered: see `sources`). */
  patroni?: PatroniStatus;
  /** HAProxy backends (absent when not configured or unreachable). */
  haproxy?: HaproxyStatus;
  /** Direct PostgreSQL view per node (absent when not configured or no node answered). */
  postgres?: PostgresStatus;
  etcd?: EtcdStatus;
  /** Several watchers (config `ha:`): "watchers: obs-a active, obs-b standby". */
  watchers?: string;
}

export interface StatusMember {
  name: string;
  /** DCS role: leader | standby_leader | sync_standby | quorum_standby | replica | unknown */
  role: string;
  /** PostgreSQL state: running | streaming | stopped | crashed | unknown ... */
  state: string;
  timeline?: number;
  /** Patroni's lag in bytes; null = unknown or not applicable (leader). */
  lagBytes: number | null;
  /** Replay delay in seconds from direct SQL (postgres source); null = unknown / not configured. */
  lagSeconds: number | null;
  /** Replay lag in bytes from direct SQL (postgres source); null = unknown. */
  pgLagBytes: number | null;
  restReachable: boolean;
  inDcs: boolean;
  isLeader: boolean;
  failoverCandidate: boolean;
  notCandidateReason?: string;
  pendingRestart: boolean;
  /** From direct SQL: pg_is_in_recovery(); undefined when unknown. */
  inRecovery?: boolean;
  /** From direct SQL: the replica streams from the primary (WAL receiver and pg_stat_replication); undefined when unknown. */
  sqlStreaming?: boolean;
}

export interface PatroniStatus {
  ageMs: number;
  scope?: string;
  version?: string;
  leader?: string;
  leaderHealthy: boolean;
  leaderProblem?: string;
  timeline?: number;
  paused: boolean;
  scheduledSwitchover?: string;
  maximumLagOnFailoverBytes: number;
  members: StatusMember[];
  failoverCandidates: string[];
  /** Last timeline switch from /history. */
  lastPromotion?: { timeline: number; at?: string; newLeader?: string; reason: string };
}

export interface BackendStatus {
  name: string;
  /** BACKEND row status */
  status: string;
  up: number;
  total: number;
  servers: { name: string; status: string; check?: string }[];
}

export interface HaproxyStatus {
  ageMs: number;
  /**
   * The write backend; `upServer` is its single UP server when there is exactly one, `upMember` the
   * Patroni member it is (matched by address, src/sources/topology.ts); `matchesLeader` is absent
   * when that is unknown.
   */
  write?: BackendStatus & { upServer?: string; upMember?: string; matchesLeader?: boolean };
  read?: BackendStatus;
  apps: BackendStatus[];
}

export interface PostgresStatus {
  ageMs: number;
  nodes: {
    name: string;
    reachable: boolean;
    error?: string;
    role: 'primary' | 'replica' | 'unknown';
    connections?: number;
    maxConnections?: number;
    lagBytes: number | null;
    lagSeconds: number | null;
    streaming?: boolean;
  }[];
}

export interface EtcdStatus {
  ageMs: number;
  members: number;
  healthy: number;
  quorum: number;
  hasQuorum: boolean;
  /** Quorum cannot be judged (too few healthy, some `/health` answers unreadable): shown as unknown, not LOST. */
  quorumUnknown?: string;
  /** `unknown`: the endpoint's `/health` answer was unreadable (healthy or not is unknown). */
  endpoints: {
    endpoint: string;
    healthy: boolean;
    unknown?: string;
    isLeader?: boolean;
    reason?: string;
    version?: string;
  }[];
}

/** What /lag shows: per replica, bytes and seconds behind, and whether Patroni could promote it. */
export interface LagView {
  cluster: string;
  at: number;
  leader?: string;
  timeline?: number;
  maximumLagOnFailoverBytes?: number;
  replicas: {
    member: string;
    state: string;
    lagBytes: number | null;
    lagSeconds: number | null;
    failoverCandidate: boolean;
    notCandidateReason?: string;
  }[];
  /** Why there is no data, when there is none. */
  problem?: string;
  /** Age of the oldest data shown. */
  ageMs?: number;
}

const STATUS_POLL_TIMEOUT_MS = 5000;

/** One poll bounded in time: a hung source cannot hang /status. */
async function pollBounded<T>(
  poll: (signal?: AbortSignal) => Promise<Observation<T>>,
  source: string,
): Promise<Observation<T>> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('status timeout')), STATUS_POLL_TIMEOUT_MS);
  try {
    return await poll(ac.signal);
  } catch (e) {
    return {
      ok: false,
      source,
      at: new Date(),
      error: { kind: 'timeout', message: (e as Error)?.message ?? String(e) },
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Builds the snapshot from the live sources. Sources arrive with their own issues; until then they report "not configured". */
const watchersLine = (v: LeadershipView): string => formatWatchers(v.watchers, v.lost);

export async function buildStatus(
  config: Config,
  _sources: Sources,
  store: StateStore,
  now = Date.now(),
): Promise<StatusSnapshot> {
  const alerts = await store.listAlerts(['pending', 'firing']);
  const configured = config.sources;
  const sources: StatusSnapshot['sources'] = (['patroni', 'haproxy', 'postgres', 'etcd', 'elasticsearch'] as const).map(
    (name) =>
      configured[name]
        ? { name, state: 'no data', detail: 'this build does not poll it yet' }
        : { name, state: 'not configured' },
  );
  const [cluster, logs] = await Promise.all([clusterStatus(_sources, now), logsStatus(_sources, now)]);
  if (logs) cluster.results['elasticsearch'] = logs;
  for (const [name, r] of Object.entries(cluster.results)) {
    const i = sources.findIndex((x) => x.name === name);
    if (i >= 0 && r) sources[i] = r;
  }
  return {
    cluster: config.cluster.name,
    at: now,
    alerts: {
      firing: alerts.filter((a) => a.state === 'firing').length,
      pending: alerts.filter((a) => a.state === 'pending').length,
    },
    sources,
    ...(cluster.patroni ? { patroni: cluster.patroni } : {}),
    ...(cluster.haproxy ? { haproxy: cluster.haproxy } : {}),
    ...(cluster.postgres ? { postgres: cluster.postgres } : {}),
    ...(cluster.etcd ? { etcd: cluster.etcd } : {}),
    ...(_sources.ha ? { watchers: watchersLine(_sources.ha.view()) } : {}),
  };
}

type SourceLine = StatusSnapshot['sources'][number];

/**
 * Elasticsearch reachability and freshness: the newest Odoo log line. "Reachable but nothing for
 * ten minutes" is as much a problem as "unreachable" (Filebeat or Odoo stopped).
 */
async function logsStatus(sources: Sources, now: number): Promise<SourceLine | undefined> {
  const es = sources.elasticsearch;
  if (!es) return undefined;
  const index = es.index('odoo');
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('status timeout')), STATUS_POLL_TIMEOUT_MS);
  try {
    const r = await es.search(
      { index, body: { size: 1, sort: [{ '@timestamp': 'desc' }], _source: ['@timestamp'], query: { match_all: {} } } },
      ac.signal,
    );
    // Reachable but without any index for the pattern is "no data", not an outage and not "all good".
    if (!r.ok && isNoIndexError(r.error))
      return { name: 'elasticsearch', state: 'no data', detail: noIndexYet(index), ageMs: 0 };
    if (!r.ok)
      return { name: 'elasticsearch', state: 'unreachable', detail: `${r.error.kind}: ${r.error.message}`, ageMs: 0 };
    const ts = r.response.hits.hits[0]?._source?.['@timestamp'];
    const last = typeof ts === 'string' ? Date.parse(ts) : NaN;
    return Number.isFinite(last)
      ? {
          name: 'elasticsearch',
          state: 'ok',
          detail: `${index}: newest log line ${Math.max(0, Math.round((now - last) / 1000))} s old`,
          ageMs: 0,
        }
      : { name: 'elasticsearch', state: 'ok', detail: `${index}: reachable, no log lines yet`, ageMs: 0 };
  } catch (e) {
    return {
      name: 'elasticsearch',
      state: 'unreachable',
      detail: `timeout: ${(e as Error)?.message ?? String(e)}`,
      ageMs: 0,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Polls the cluster sources in parallel (each bounded) and shapes them for display. */
export async function clusterStatus(
  sources: Sources,
  now: number,
): Promise<{
  results: Record<string, SourceLine | undefined>;
  patroni?: PatroniStatus;
  haproxy?: HaproxyStatus;
  postgres?: PostgresStatus;
  etcd?: EtcdStatus;
}> {
  const [pat, hap, pg, et] = await Promise.all([
    sources.patroni ? pollBounded(sources.patroni.poll, 'patroni') : undefined,
    sources.haproxy ? pollBounded(sources.haproxy.poll, 'haproxy') : undefined,
    sources.postgres ? pollBounded(sources.postgres.poll, 'postgres') : undefined,
    sources.etcd ? pollBounded(sources.etcd.poll, 'etcd') : undefined,
  ]);
  const line = <T>(name: string, o: Observation<T> | undefined, detail: (v: T) => string): SourceLine | undefined =>
    !o
      ? undefined
      : o.ok
        ? { name, state: 'ok', detail: detail(o.value), ageMs: Math.max(0, now - o.at.getTime()) }
        : {
            name,
            state: 'unreachable',
            detail: `${o.error.kind}: ${o.error.message}`,
            ageMs: Math.max(0, now - o.at.getTime()),
          };
  const out: Awaited<ReturnType<typeof clusterStatus>> = { results: {} };
  // Config node names and HAProxy server names need not be Patroni member names: joined by address.
  const addresses = pat?.ok ? memberAddresses(pat.value.members) : undefined;
  const pgMatch =
    pg?.ok && addresses
      ? new Map([...matchPostgresNodes(pg.value.nodes, addresses).members].map(([node, m]) => [node, m.member]))
      : undefined;
  const nodeOf = (member: string): string | undefined =>
    pgMatch ? [...pgMatch].find(([, m]) => m === member)?.[0] : member;
  const pgLag = pg?.ok ? replicaLags(pg.value, pgMatch) : undefined;

  if (pat?.ok) {
    const c = pat.value;
    const members: StatusMember[] = c.members.map((m) => {
      const nodeName = nodeOf(m.name);
      const sql = nodeName === undefined ? undefined : pgLag?.replicas.find((r) => r.node === nodeName);
      const node = pg?.ok && nodeName !== undefined ? pg.value.nodes.find((n) => n.name === nodeName) : undefined;
      return {
        name: m.name,
        role: m.role,
        state: m.state,
        ...(m.timeline !== undefined ? { timeline: m.timeline } : {}),
        lagBytes: m.isLeader ? null : m.lagBytes,
        lagSeconds: sql?.seconds ?? null,
        pgLagBytes: sql?.bytes ?? null,
        restReachable: m.restReachable,
        inDcs: m.inDcs,
        isLeader: m.isLeader,
        failoverCandidate: m.failoverCandidate,
        ...(m.notCandidateReason ? { notCandidateReason: m.notCandidateReason } : {}),
        pendingRestart: m.pendingRestart,
        ...(node?.reachable && node.inRecovery !== undefined ? { inRecovery: node.inRecovery } : {}),
        ...(sql ? { sqlStreaming: sql.streaming } : {}),
      };
    });
    const last = c.history[c.history.length - 1];
    const sw = c.scheduledSwitchover;
    out.patroni = {
      ageMs: Math.max(0, now - c.at),
      ...(c.scope ? { scope: c.scope } : {}),
      ...(c.patroniVersion ? { version: c.patroniVersion } : {}),
      ...(c.leader ? { leader: c.leader } : {}),
      leaderHealthy: c.leaderHealthy,
      // An unreadable DCS view or leader answer is shown as unknown, not as a leader problem.
      ...(c.leaderProblem || c.leaderUnknown
        ? { leaderProblem: c.leaderProblem ?? `unknown: ${c.leaderUnknown}` }
        : {}),
      ...(c.timeline !== undefined ? { timeline: c.timeline } : {}),
      paused: c.paused,
      ...(sw
        ? { scheduledSwitchover: `${sw.from ?? '?'} → ${sw.to ?? 'best candidate'}${sw.at ? ` at ${sw.at}` : ''}` }
        : {}),
      maximumLagOnFailoverBytes: c.maximumLagOnFailover,
      members,
      failoverCandidates: members.filter((m) => m.failoverCandidate).map((m) => m.name),
      ...(last
        ? {
            lastPromotion: {
              timeline: last.timeline + 1,
              ...(last.at ? { at: last.at } : {}),
              ...(last.newLeader ? { newLeader: last.newLeader } : {}),
              reason: last.reason,
            },
          }
        : {}),
    };
  }
  out.results['patroni'] = line(
    'patroni',
    pat,
    (c) =>
      `leader ${c.leader ?? 'NONE'}${c.leaderHealthy ? '' : ` (${c.leaderProblem ?? `unknown: ${c.leaderUnknown}`})`}, timeline ${c.timeline ?? '?'}, ${c.reachableMembers}/${c.members.filter((m) => m.configured).length} members answering`,
  );

  if (hap?.ok) {
    const h = sources.haproxy!;
    const summary = (name: string): BackendStatus | undefined => {
      const b = hap.value.backends.find((x) => x.name === name);
      if (!b) return undefined;
      return {
        name,
        status: b.status,
        up: b.servers.filter((s) => s.status.routed).length,
        total: b.servers.length,
        servers: b.servers.map((s) => ({
          name: s.name,
          status: s.status.raw,
          ...(s.checkDesc || s.checkStatus
            ? {
                check: [s.checkDesc ?? s.checkStatus, s.checkCode !== undefined ? `code ${s.checkCode}` : '']
                  .filter(Boolean)
                  .join(', '),
              }
            : {}),
        })),
      };
    };
    const write = summary(h.writeBackend);
    const leader = out.patroni?.leader;
    const appNames =
      h.appBackends ??
      hap.value.backends.map((b) => b.name).filter((n) => n !== h.writeBackend && n !== h.readBackend && n !== 'stats');
    const upServer =
      write && write.up === 1 ? write.servers.find((s) => /^(UP|no check)/.test(s.status))?.name : undefined;
    const writeServers = hap.value.backends.find((x) => x.name === h.writeBackend)?.servers ?? [];
    const upMember =
      upServer && addresses ? matchHaproxyServers(writeServers, addresses).members.get(upServer)?.member : undefined;
    out.haproxy = {
      ageMs: Math.max(0, now - hap.at.getTime()),
      ...(write
        ? {
            write: {
              ...write,
              ...(upServer ? { upServer } : {}),
              ...(upMember ? { upMember } : {}),
              ...(upMember && leader ? { matchesLeader: upMember === leader } : {}),
            },
          }
        : {}),
      ...(h.readBackend && summary(h.readBackend) ? { read: summary(h.readBackend)! } : {}),
      apps: appNames.map(summary).filter((b): b is BackendStatus => b !== undefined),
    };
  }
  out.results['haproxy'] = line('haproxy', hap, () =>
    out.haproxy?.write
      ? `write ${out.haproxy.write.name}: ${out.haproxy.write.up} UP${out.haproxy.write.upServer ? ` (${out.haproxy.write.upServer})` : ''}`
      : 'write backend not found',
  );

  if (pg?.ok) {
    out.postgres = {
      ageMs: Math.max(0, now - pg.at.getTime()),
      nodes: pg.value.nodes.map((n) => {
        const r = pgLag?.replicas.find((x) => x.node === n.name);
        return {
          name: n.name,
          reachable: n.reachable,
          ...(n.error ? { error: n.error.message } : {}),
          role: n.inRecovery === undefined ? 'unknown' : n.inRecovery ? 'replica' : 'primary',
          ...(n.connections !== undefined ? { connections: n.connections } : {}),
          ...(n.maxConnections !== undefined ? { maxConnections: n.maxConnections } : {}),
          lagBytes: r?.bytes ?? null,
          lagSeconds: r?.seconds ?? null,
          ...(r ? { streaming: r.streaming } : {}),
        };
      }),
    };
  }
  out.results['postgres'] = line(
    'postgres',
    pg,
    () =>
      `${out.postgres?.nodes.filter((n) => n.reachable).length ?? 0}/${out.postgres?.nodes.length ?? 0} nodes answering; primary: ${
        out.postgres?.nodes
          .filter((n) => n.role === 'primary')
          .map((n) => n.name)
          .join(', ') || 'none'
      }`,
  );

  if (et?.ok) {
    const e = et.value;
    out.etcd = {
      ageMs: Math.max(0, now - e.at),
      members: e.memberCount,
      healthy: e.healthyCount,
      quorum: e.quorum,
      hasQuorum: e.hasQuorum,
      ...(e.quorumUnknown ? { quorumUnknown: e.quorumUnknown } : {}),
      endpoints: e.endpoints.map((x) => ({
        endpoint: x.endpoint,
        healthy: x.healthy,
        ...(x.healthUnknown ? { unknown: x.healthUnknown } : {}),
        ...(x.isLeader !== undefined ? { isLeader: x.isLeader } : {}),
        ...(x.healthReason ? { reason: x.healthReason } : {}),
        ...(x.version ? { version: x.version } : {}),
      })),
    };
  }
  out.results['etcd'] = line(
    'etcd',
    et,
    () =>
      `${out.etcd?.healthy}/${out.etcd?.members} healthy, quorum ${out.etcd?.hasQuorum ? 'ok' : out.etcd?.quorumUnknown ? 'unknown' : 'LOST'}`,
  );
  return out;
}

/** The /lag view from a snapshot: Patroni's bytes, the postgres source's seconds, failover candidacy. */
export function buildLagView(s: StatusSnapshot): LagView {
  const v: LagView = { cluster: s.cluster, at: s.at, replicas: [] };
  if (!s.patroni) {
    const why = s.sources.find((x) => x.name === 'patroni');
    v.problem = `patroni: ${why?.state ?? 'not configured'}${why?.detail ? ` (${why.detail})` : ''}`;
    return v;
  }
  const p = s.patroni;
  if (p.leader) v.leader = p.leader;
  if (p.timeline !== undefined) v.timeline = p.timeline;
  v.maximumLagOnFailoverBytes = p.maximumLagOnFailoverBytes;
  v.ageMs = Math.max(p.ageMs, s.postgres?.ageMs ?? 0);
  v.replicas = p.members
    .filter((m) => !m.isLeader)
    .map((m) => ({
      member: m.name,
      state: m.state,
      lagBytes: m.lagBytes ?? m.pgLagBytes,
      lagSeconds: m.lagSeconds,
      failoverCandidate: m.failoverCandidate,
      ...(m.notCandidateReason ? { notCandidateReason: m.notCandidateReason } : {}),
    }));
  return v;
}

const fmtS = (x: number | null) => (x === null ? '? s' : x < 10 ? `${x.toFixed(1)} s` : `${Math.round(x)} s`);

export function formatLagText(v: LagView): string {
  const head = `Replication lag — ${v.cluster} — ${new Date(v.at).toISOString()}`;
  if (v.problem)
    return `${head}
no data — ${v.problem}`;
  const lines = [
    head,
    `leader ${v.leader ?? 'NONE'}, timeline ${v.timeline ?? '?'}, maximum_lag_on_failover ${formatBytes(v.maximumLagOnFailoverBytes)}${v.ageMs !== undefined ? `, data ${Math.round(v.ageMs / 1000)} s old` : ''}`,
  ];
  if (v.replicas.length === 0) lines.push('no replicas');
  for (const r of v.replicas)
    lines.push(
      `${r.member}: ${formatBytes(r.lagBytes)} / ${fmtS(r.lagSeconds)} behind, ${r.state} — ${r.failoverCandidate ? 'failover candidate' : `NOT a failover candidate (${r.notCandidateReason ?? '?'})`}`,
    );
  return lines.join('\n');
}

/** The cluster part of `odoo-ha-watch status` (plain text). */
export function formatClusterText(s: StatusSnapshot): string[] {
  const lines: string[] = [];
  const p = s.patroni;
  if (p) {
    lines.push(
      '',
      `Patroni${p.version ? ` ${p.version}` : ''}: leader ${p.leader ?? 'NONE'}${p.leaderHealthy ? '' : ` — ${p.leaderProblem}`}, timeline ${p.timeline ?? '?'}${p.paused ? ', PAUSED (no automatic failover)' : ''}${p.scheduledSwitchover ? `, switchover scheduled ${p.scheduledSwitchover}` : ''} (data ${Math.round(p.ageMs / 1000)} s old)`,
    );
    lines.push(
      `  ${'MEMBER'.padEnd(8)} ${'ROLE'.padEnd(12)} ${'STATE'.padEnd(12)} TL  ${'LAG'.padEnd(10)} ${'DELAY'.padEnd(7)} CANDIDATE`,
    );
    for (const m of p.members) {
      const lag = m.isLeader ? '' : formatBytes(m.lagBytes ?? m.pgLagBytes);
      const delay = m.isLeader ? '' : m.lagSeconds === null ? '?' : fmtS(m.lagSeconds);
      const cand = m.isLeader ? '' : m.failoverCandidate ? 'yes' : `no (${m.notCandidateReason ?? '?'})`;
      const state = m.restReachable ? m.state : `${m.state}, REST unreachable`;
      lines.push(
        `  ${m.name.padEnd(8)} ${m.role.padEnd(12)} ${state.padEnd(12)} ${String(m.timeline ?? '?').padEnd(3)} ${lag.padEnd(10)} ${delay.padEnd(7)} ${cand}${m.pendingRestart ? ' [pending restart]' : ''}`,
      );
    }
    if (p.lastPromotion)
      lines.push(
        `  last promotion: timeline ${p.lastPromotion.timeline}${p.lastPromotion.newLeader ? ` → ${p.lastPromotion.newLeader}` : ''}${p.lastPromotion.at ? ` at ${p.lastPromotion.at}` : ''}`,
      );
  }
  const h = s.haproxy;
  if (h) {
    const b = (x: BackendStatus) =>
      `${x.name} ${x.up}/${x.total} UP (${x.servers.map((sv) => `${sv.name} ${sv.status}`).join(', ')})`;
    lines.push('', `HAProxy (data ${Math.round(h.ageMs / 1000)} s old):`);
    const to = (w: NonNullable<HaproxyStatus['write']>) =>
      `${w.upServer}${w.upMember && w.upMember !== w.upServer ? ` (${w.upMember})` : ''}${w.matchesLeader === false ? ' — NOT the Patroni leader' : w.upMember === undefined && s.patroni ? ' — which Patroni member is unknown (see odoo-ha-watch check)' : ''}`;
    if (h.write)
      lines.push(
        `  writes: ${b(h.write)}${h.write.upServer ? ` → ${to(h.write)}` : h.write.up === 0 ? ' — WRITES IMPOSSIBLE' : ' — MORE THAN ONE PRIMARY'}`,
      );
    if (h.read) lines.push(`  reads:  ${b(h.read)}`);
    for (const a of h.apps) lines.push(`  app:    ${b(a)}`);
  }
  const pg = s.postgres;
  if (pg)
    lines.push(
      '',
      `PostgreSQL (data ${Math.round(pg.ageMs / 1000)} s old): ${pg.nodes.map((n) => `${n.name} ${n.reachable ? n.role : `unreachable (${n.error ?? '?'})`}${n.connections !== undefined ? ` ${n.connections}/${n.maxConnections} conn` : ''}`).join(', ')}`,
    );
  const e = s.etcd;
  if (e)
    lines.push(
      '',
      `etcd (data ${Math.round(e.ageMs / 1000)} s old): ${e.healthy}/${e.members} healthy, quorum ${e.hasQuorum ? `ok (${e.quorum} needed)` : e.quorumUnknown ? 'unknown' : 'LOST'}${e.members % 2 === 0 ? ', EVEN member count' : ''} — ${e.endpoints.map((x) => `${x.endpoint} ${x.healthy ? 'healthy' : x.unknown ? `health unknown (${x.unknown})` : `UNHEALTHY${x.reason ? ` (${x.reason})` : ''}`}${x.isLeader ? ' [leader]' : ''}`).join(', ')}`,
    );
  return lines;
}

export function formatStatusText(s: StatusSnapshot): string {
  const lines = [
    `Cluster ${s.cluster} — ${new Date(s.at).toISOString()}`,
    `Alerts: ${s.alerts.firing} firing, ${s.alerts.pending} pending`,
  ];
  for (const src of s.sources) lines.push(`${src.name}: ${src.state}${src.detail ? ` (${src.detail})` : ''}`);
  if (s.watchers) lines.push(s.watchers);
  lines.push(...formatClusterText(s));
  return lines.join('\n');
}

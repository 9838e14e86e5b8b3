/**
 * Pure parsers for Patroni REST API bodies, normalized across Patroni 2.x / 3.x / 4.x:
 * - `/patroni` role is "master" up to 3.x and "primary" in 4.x: both become `primary`;
 * - `/cluster` member roles: leader | standby_leader | sync_standby | quorum_standby (4.0+) | replica;
 * - member `state`: "streaming" / "in archive recovery" for replicas since 3.0.4, else the PostgreSQL
 *   state string ("running", "stopped", "crashed", ...);
 * - member `lag`: bytes, or the string "unknown" (kept as `lagBytes: null, lagUnknown: true`);
 *   4.1+ adds receive_lag / replay_lag / lsn fields.
 * Every parser throws `MalformedBody` on a body it cannot make sense of (the client turns it into an
 * Observation error of kind "malformed").
 */
import { excerpt } from '../../util/text.js';

export class MalformedBody extends Error {}

export type ClusterRole = 'leader' | 'standby_leader' | 'sync_standby' | 'quorum_standby' | 'replica' | 'unknown';

export interface ClusterMember {
  name: string;
  role: ClusterRole;
  /** The role string as Patroni wrote it. */
  rawRole: string;
  /** "running", "streaming", "in archive recovery", "stopped", "crashed", "starting", ... */
  state: string;
  host?: string;
  port?: number;
  apiUrl?: string;
  timeline?: number;
  /** Bytes behind the leader (max of received/replayed); null when Patroni says "unknown" or gives none. */
  lagBytes: number | null;
  /** Patroni explicitly reported "unknown" (member LSN unknown): alert-worthy on a replica. */
  lagUnknown: boolean;
  receiveLagBytes?: number;
  replayLagBytes?: number;
  pendingRestart: boolean;
  pendingRestartReason?: Record<string, { old_value?: string; new_value?: string }>;
  scheduledRestart?: unknown;
  tags: Record<string, unknown>;
}

export interface ClusterView {
  members: ClusterMember[];
  scope?: string;
  paused: boolean;
  scheduledSwitchover?: { at?: string; from?: string; to?: string };
}

/** `/patroni` role normalized: master → primary. */
export type NodeRole = 'primary' | 'replica' | 'standby_leader' | 'demoted' | 'promoted' | 'uninitialized' | 'unknown';

export interface ReplicationRow {
  usename?: string;
  applicationName: string;
  clientAddr?: string;
  state?: string;
  syncState?: string;
  syncPriority?: number;
}

export interface NodeStatus {
  /** PostgreSQL state: "running", "starting", "stopped", "crashed", or "unknown" when Patroni's SQL failed. */
  state: string;
  role: NodeRole;
  rawRole: string;
  serverVersion?: number;
  timeline?: number;
  /** Primary: flush LSN as a byte position. */
  walLocation?: number;
  receivedLocation?: number;
  replayedLocation?: number;
  replayedTimestamp?: string | null;
  replayPaused?: boolean;
  /** "streaming" | "in archive recovery" (replicas, 3.0.4+). */
  replicationState?: string;
  replication: ReplicationRow[];
  paused: boolean;
  clusterUnlocked: boolean;
  failsafeActive: boolean;
  pendingRestart: boolean;
  pendingRestartReason?: Record<string, { old_value?: string; new_value?: string }>;
  dcsLastSeen?: number;
  postmasterStartTime?: string;
  patroniVersion?: string;
  scope?: string;
  /** Absent in some versions (3.0.x omits it): the configured member name is authoritative. */
  name?: string;
  tags: Record<string, unknown>;
}

export interface HistoryEntry {
  timeline: number;
  lsn: number;
  reason: string;
  at?: string;
  newLeader?: string;
}

export interface DynamicConfig {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
  /** bytes; Patroni's default 1048576 when unset */
  maximumLagOnFailover: number;
  maxConnections?: number;
}

export const DEFAULT_MAXIMUM_LAG_ON_FAILOVER = 1048576;

type Json = Record<string, unknown>;

function asObject(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new MalformedBody(`${what}: expected a JSON object`);
  return v as Json;
}

function parseJson(body: string | unknown): unknown {
  if (typeof body !== 'string') return body;
  try {
    return JSON.parse(body);
  } catch {
    throw new MalformedBody(`not JSON: ${excerpt(body, 80)}`);
  }
}

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function normalizeClusterRole(raw: string): ClusterRole {
  switch (raw) {
    case 'leader':
    case 'master': // never seen in /cluster, but harmless
    case 'primary':
      return 'leader';
    case 'standby_leader':
    case 'standby-leader':
      return 'standby_leader';
    case 'sync_standby':
    case 'sync-standby':
      return 'sync_standby';
    case 'quorum_standby':
      return 'quorum_standby';
    case 'replica':
      return 'replica';
    default:
      return 'unknown';
  }
}

export function normalizeNodeRole(raw: string): NodeRole {
  switch (raw) {
    case 'master':
    case 'primary':
      return 'primary';
    case 'replica':
    case 'standby':
      return 'replica';
    case 'standby_leader':
      return 'standby_leader';
    case 'demoted':
    case 'promoted':
    case 'uninitialized':
      return raw;
    default:
      return 'unknown';
  }
}

/** A non-leader member whose PostgreSQL is up and replicating (or, before 3.0.4, "running"). */
export function isHealthyState(state: string): boolean {
  return state === 'running' || state === 'streaming' || state === 'in archive recovery';
}

export function parseCluster(body: string | unknown): ClusterView {
  const o = asObject(parseJson(body), '/cluster');
  if (!Array.isArray(o['members'])) throw new MalformedBody('/cluster: no "members" list');
  const members = o['members'].map((m, i): ClusterMember => {
    const x = asObject(m, `/cluster members[${i}]`);
    const name = str(x['name']);
    if (!name) throw new MalformedBody(`/cluster members[${i}]: no name`);
    const rawRole = str(x['role']) ?? 'unknown';
    const lagRaw = x['lag'];
    const lagBytes = num(lagRaw) ?? null;
    const member: ClusterMember = {
      name,
      role: normalizeClusterRole(rawRole),
      rawRole,
      state: str(x['state']) ?? 'unknown',
      lagBytes,
      lagUnknown: lagRaw === 'unknown',
      pendingRestart: x['pending_restart'] === true,
      tags: typeof x['tags'] === 'object' && x['tags'] !== null ? (x['tags'] as Record<string, unknown>) : {},
    };
    const host = str(x['host']);
    if (host !== undefined) member.host = host;
    const port = num(x['port']);
    if (port !== undefined) member.port = port;
    const api = str(x['api_url']);
    if (api !== undefined) member.apiUrl = api;
    const tl = num(x['timeline']);
    if (tl !== undefined) member.timeline = tl;
    const rl = num(x['receive_lag']);
    if (rl !== undefined) member.receiveLagBytes = rl;
    const pl = num(x['replay_lag']);
    if (pl !== undefined) member.replayLagBytes = pl;
    if (typeof x['pending_restart_reason'] === 'object' && x['pending_restart_reason'] !== null)
      member.pendingRestartReason = x['pending_restart_reason'] as ClusterMember['pendingRestartReason'];
    if (x['scheduled_restart'] !== undefined) member.scheduledRestart = x['scheduled_restart'];
    return member;
  });
  const view: ClusterView = { members, paused: o['pause'] === true };
  const scope = str(o['scope']);
  if (scope !== undefined) view.scope = scope;
  const sw = o['scheduled_switchover'];
  if (typeof sw === 'object' && sw !== null) {
    const s = sw as Json;
    view.scheduledSwitchover = {
      ...(str(s['at']) !== undefined ? { at: str(s['at'])! } : {}),
      ...(str(s['from']) !== undefined ? { from: str(s['from'])! } : {}),
      ...(str(s['to']) !== undefined ? { to: str(s['to'])! } : {}),
    };
  }
  return view;
}

export function parseNodeStatus(body: string | unknown): NodeStatus {
  const o = asObject(parseJson(body), '/patroni');
  const state = str(o['state']);
  if (state === undefined) throw new MalformedBody('/patroni: no "state"');
  const rawRole = str(o['role']) ?? 'unknown';
  const xlog = typeof o['xlog'] === 'object' && o['xlog'] !== null ? (o['xlog'] as Json) : {};
  const p = typeof o['patroni'] === 'object' && o['patroni'] !== null ? (o['patroni'] as Json) : {};
  const replication = Array.isArray(o['replication'])
    ? o['replication']
        .filter((r): r is Json => typeof r === 'object' && r !== null)
        .map((r) => {
          const row: ReplicationRow = { applicationName: str(r['application_name']) ?? '' };
          if (str(r['usename'])) row.usename = str(r['usename'])!;
          if (str(r['client_addr'])) row.clientAddr = str(r['client_addr'])!;
          if (str(r['state'])) row.state = str(r['state'])!;
          if (str(r['sync_state'])) row.syncState = str(r['sync_state'])!;
          if (num(r['sync_priority']) !== undefined) row.syncPriority = num(r['sync_priority'])!;
          return row;
        })
    : [];
  const s: NodeStatus = {
    state,
    role: normalizeNodeRole(rawRole),
    rawRole,
    replication,
    paused: o['pause'] === true,
    clusterUnlocked: o['cluster_unlocked'] === true,
    failsafeActive: o['failsafe_mode_is_active'] === true,
    pendingRestart: o['pending_restart'] === true,
    tags: typeof o['tags'] === 'object' && o['tags'] !== null ? (o['tags'] as Record<string, unknown>) : {},
  };
  const set = <K extends keyof NodeStatus>(k: K, v: NodeStatus[K] | undefined) => {
    if (v !== undefined) s[k] = v;
  };
  set('serverVersion', num(o['server_version']));
  set('timeline', num(o['timeline']));
  set('walLocation', num(xlog['location']));
  set('receivedLocation', num(xlog['received_location']));
  set('replayedLocation', num(xlog['replayed_location']));
  if ('replayed_timestamp' in xlog) s.replayedTimestamp = str(xlog['replayed_timestamp']) ?? null;
  if (typeof xlog['paused'] === 'boolean') s.replayPaused = xlog['paused'];
  set('replicationState', str(o['replication_state']));
  if (typeof o['pending_restart_reason'] === 'object' && o['pending_restart_reason'] !== null)
    s.pendingRestartReason = o['pending_restart_reason'] as NodeStatus['pendingRestartReason'];
  set('dcsLastSeen', num(o['dcs_last_seen']));
  set('postmasterStartTime', str(o['postmaster_start_time']));
  set('patroniVersion', str(p['version']));
  set('scope', str(p['scope']));
  set('name', str(p['name']));
  return s;
}

export function parseHistory(body: string | unknown): HistoryEntry[] {
  const o = parseJson(body);
  if (!Array.isArray(o)) throw new MalformedBody('/history: expected a JSON list');
  return o
    .filter((l): l is unknown[] => Array.isArray(l) && l.length >= 3)
    .map((l) => {
      const e: HistoryEntry = { timeline: num(l[0]) ?? 0, lsn: num(l[1]) ?? 0, reason: str(l[2]) ?? '' };
      if (str(l[3])) e.at = str(l[3])!;
      if (str(l[4])) e.newLeader = str(l[4])!;
      return e;
    })
    .sort((a, b) => a.timeline - b.timeline);
}

export function parseDynamicConfig(body: string | unknown): DynamicConfig {
  const o = asObject(parseJson(body), '/config');
  const pg = typeof o['postgresql'] === 'object' && o['postgresql'] !== null ? (o['postgresql'] as Json) : {};
  const params = typeof pg['parameters'] === 'object' && pg['parameters'] !== null ? (pg['parameters'] as Json) : {};
  const c: DynamicConfig = {
    ttl: num(o['ttl']) ?? 30,
    loopWait: num(o['loop_wait']) ?? 10,
    retryTimeout: num(o['retry_timeout']) ?? 10,
    maximumLagOnFailover: num(o['maximum_lag_on_failover']) ?? DEFAULT_MAXIMUM_LAG_ON_FAILOVER,
  };
  const mc = num(params['max_connections']);
  if (mc !== undefined) c.maxConnections = mc;
  return c;
}

/** Patroni's "Lag in MB" rendering helper and status views: bytes → "1.5 MB". */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return 'unknown';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

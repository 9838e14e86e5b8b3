/**
 * Cluster observations for rule tests, built from recorded lab fixtures (test/fixtures/lab) through
 * the real parsers and merge, or by hand where the lab has no recording (PostgreSQL rows, etcd).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { EvalContext, Rule, RuleType } from '../../src/rules/rule-type.js';
import { silentLogger } from '../../src/log.js';
import { summarize as summarizeEtcd, type EtcdMemberState, type EtcdState } from '../../src/sources/etcd/client.js';
import { parseStatsCsv } from '../../src/sources/haproxy/csv.js';
import { toStats, type HaproxyStats } from '../../src/sources/haproxy/status.js';
import type { Got } from '../../src/sources/http-get.js';
import { failed, observed, type Observation, type SourceError } from '../../src/sources/observation.js';
import { mergeClusterState, type MemberPoll, type PatroniClusterState } from '../../src/sources/patroni/merge.js';
import {
  parseCluster,
  parseDynamicConfig,
  parseHistory,
  parseNodeStatus,
  type ClusterView,
  type NodeStatus,
} from '../../src/sources/patroni/parse.js';
import type { PgNodeState, PostgresState } from '../../src/sources/postgres/client.js';
import { mapReplication } from '../../src/sources/postgres/queries.js';
import type { Sources } from '../../src/sources/sources.js';
import type { LeadershipView } from '../../src/ha/leadership.js';
import { makeRule } from './builders.js';

export const lab = (f: string): string => readFileSync(new URL(`../fixtures/lab/${f}`, import.meta.url), 'utf8');

export const refused: { ok: false; error: SourceError } = {
  ok: false,
  error: { kind: 'unreachable', message: 'connection refused' },
};

/** One member as its REST API answered: a `/patroni` role (running), a full status, 'down' (refused), or any failed answer. */
export type MemberAnswer = string | NodeStatus | 'down' | { ok: false; error: SourceError };

/**
 * A merged Patroni state: every answering member serves the same `/cluster` body (or none, when
 * `clusterJson` is null: no DCS view), `/history` and the lab's `/config`.
 */
export function patroniState(
  clusterJson: string | null,
  members: Record<string, MemberAnswer>,
  o: { at?: number; timeline?: number; history?: string } = {},
): PatroniClusterState {
  const polls: MemberPoll[] = Object.entries(members).map(([name, a]): MemberPoll => {
    if (a === 'down') return { name, url: '', status: refused, cluster: refused, history: refused, config: refused };
    const status: Got<NodeStatus> =
      typeof a === 'string'
        ? { ok: true, value: parseNodeStatus(JSON.stringify({ state: 'running', role: a, timeline: o.timeline ?? 1 })) }
        : 'ok' in a
          ? a
          : { ok: true, value: a };
    const cluster: Got<ClusterView> =
      clusterJson === null
        ? { ok: false, error: { kind: 'http_status', message: 'HTTP 503' } }
        : { ok: true, value: parseCluster(clusterJson) };
    return {
      name,
      url: '',
      status,
      cluster,
      history: { ok: true, value: parseHistory(o.history ?? '[]') },
      config: { ok: true, value: parseDynamicConfig(lab('patroni-config.json')) },
    };
  });
  return mergeClusterState(polls, o.at ?? 0)!;
}

export const STEADY = { pg1: 'master', pg2: 'replica', pg3: 'replica' } as const;
export const steadyPatroni = (): PatroniClusterState => patroniState(lab('patroni-cluster-steady.json'), STEADY);
export const haproxyStats = (csv: string): HaproxyStats => toStats(parseStatsCsv(csv));

// ---- PostgreSQL nodes (hand-made: the lab records no SQL rows) ----
export const replicationRow = (o: Record<string, unknown>) => ({
  application_name: 'pg2',
  client_addr: '127.0.0.1',
  state: 'streaming',
  sync_state: 'async',
  sent_lag_bytes: 0,
  flush_lag_bytes: 0,
  replay_lag_bytes: 0,
  replay_caught_up: true,
  write_lag_s: null,
  replay_lag_s: null,
  reply_age_s: 1,
  ...o,
});
const node = (name: string): PgNodeState => ({
  name,
  target: `127.0.0.1:${name}`,
  reachable: true,
  unknown: {},
  serverVersion: 150000,
  maxConnections: 100,
  reservedConnections: 3,
  connections: 5,
  archiveMode: 'off',
  idleInTransaction: [],
  checksumFailures: [],
});
export function pgPrimary(
  name: string,
  replicas: Record<string, unknown>[] = [],
  o: Partial<PgNodeState> = {},
): PgNodeState {
  return {
    ...node(name),
    inRecovery: false,
    primary: { lsnPos: 10_000_000, lsn: '0/989680', replication: mapReplication(replicas), slots: [] },
    ...o,
  };
}
export function pgReplica(
  name: string,
  o: Partial<NonNullable<PgNodeState['replica']>> = {},
  n: Partial<PgNodeState> = {},
): PgNodeState {
  return {
    ...node(name),
    inRecovery: true,
    replica: {
      receiveLsn: null,
      replayLsn: null,
      receivePos: 10_000_000,
      replayPos: 10_000_000,
      applyBacklogBytes: 0,
      replayPaused: false,
      replayDelayS: 0,
      walReceiver: { status: 'streaming', senderHost: '127.0.0.1', senderPort: 5432, slotName: name, lastMsgAgeS: 0.5 },
      ...o,
    },
    ...n,
  };
}
/** pg1 primary, pg2 and pg3 streaming and caught up. */
export const steadyPostgres = (): PostgresState => ({
  at: 0,
  nodes: [
    pgPrimary('pg1', [replicationRow({ application_name: 'pg2' }), replicationRow({ application_name: 'pg3' })]),
    pgReplica('pg2'),
    pgReplica('pg3'),
  ],
});

// ---- etcd ----
export const etcdEndpoint = (n: number, healthy: boolean, o: Partial<EtcdMemberState> = {}): EtcdMemberState => ({
  endpoint: `http://127.0.0.1:237${n}`,
  reachable: true,
  healthy,
  memberId: `m${n}`,
  leaderId: 'm1',
  ...o,
});
export const ETCD_MEMBERS = [
  { id: 'm1', name: 'etcd1' },
  { id: 'm2', name: 'etcd2' },
  { id: 'm3', name: 'etcd3' },
];
/** `members: null` = no member list was read. */
export const etcdState = (
  eps: EtcdMemberState[],
  members: { id: string; name: string }[] | null = ETCD_MEMBERS,
): EtcdState => summarizeEtcd(eps, members ?? undefined, 0);

// ---- sources and evaluation ----
export interface Observed {
  patroni?: PatroniClusterState | Observation<PatroniClusterState>;
  haproxy?: HaproxyStats | Observation<HaproxyStats>;
  postgres?: PostgresState | Observation<PostgresState>;
  etcd?: EtcdState | Observation<EtcdState>;
  http?: Sources['http'];
  /** The watchers' own view (config `ha:`), for the ha_watchers rule. */
  ha?: LeadershipView;
}

const asObs = <T>(source: string, v: T | Observation<T>): Observation<T> =>
  typeof v === 'object' && v !== null && 'ok' in v && 'source' in v ? (v as Observation<T>) : observed(source, v as T);

/** Cluster sources that answer these observations (a failed Observation is a failed poll). */
export function sourcesOf(o: Observed): Sources {
  return {
    http: o.http ?? { probe: async (url) => ({ url, durationMs: 0, status: 200 }) },
    ...(o.patroni ? { patroni: { members: [], poll: async () => asObs('patroni', o.patroni!) } } : {}),
    ...(o.haproxy ? { haproxy: { writeBackend: 'pg_primary', poll: async () => asObs('haproxy', o.haproxy!) } } : {}),
    ...(o.postgres ? { postgres: { nodes: [], poll: async () => asObs('postgres', o.postgres!) } } : {}),
    ...(o.etcd ? { etcd: { poll: async () => asObs('etcd', o.etcd!) } } : {}),
    ...(o.ha ? { ha: { view: () => o.ha! } } : {}),
    async close() {},
  };
}

export const pollFailed = (source: string): Observation<never> =>
  failed(source, { kind: 'unreachable', message: `no ${source} endpoint answered (connection refused)` });

/** A rule of this type with its spec validated (prefaults applied) like the loader does. */
export function ruleOf(t: RuleType, spec: Record<string, unknown> = {}, over: Partial<Rule> = {}): Rule {
  return makeRule({
    id: t.type.replace(/_/g, '-'),
    type: t.type,
    message: t.defaultMessage,
    spec: z.object(t.shape).parse(spec) as Record<string, unknown>,
    ...over,
  });
}

export function evalCtx(sources: Sources, o: Partial<EvalContext> = {}): EvalContext {
  return { now: new Date(0), signal: new AbortController().signal, sources, logger: silentLogger, ...o };
}

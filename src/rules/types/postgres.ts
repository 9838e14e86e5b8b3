import { z } from 'zod';
import type { PgFact, PgNodeState, PostgresState } from '../../sources/postgres/client.js';
import { matchPostgresNodes, memberAddresses } from '../../sources/topology.js';
import { defineRuleType, recoveredByProblem, type EvalContext, type Finding, type Unknown } from '../rule-type.js';
import { formatBytes, observe, requireSource, secondsText } from './cluster-util.js';

const REPL_CHECKS = ['lag', 'not_streaming', 'replay_paused'] as const;
type ReplCheck = (typeof REPL_CHECKS)[number];

export interface ReplicaLag {
  node: string;
  /** Replay lag in bytes behind the primary's current LSN (null = unknown). */
  bytes: number | null;
  /** Replay delay in seconds (max of the primary's replay_lag and the replica's own delay; 0 when caught up). */
  seconds: number | null;
  streaming: boolean;
  /** Why it is not streaming, when it is not. */
  notStreamingReason?: string;
  replayPaused: boolean;
  state?: string | null;
  syncState?: string | null;
  /** Checks this replica cannot be judged on this time (a query failed on it or on the primary), with why. */
  unknown: Partial<Record<ReplCheck, string>>;
}

const unknownWhy = (n: PgNodeState, fact: PgFact): string | undefined => {
  const e = n.unknown[fact];
  return e ? `${n.name}: ${fact} unknown (${e.message})` : undefined;
};

/**
 * Pure: per-replica lag from one poll of every node (the primary's pg_stat_replication + each
 * replica's own view). A fact that could not be read leaves what depends on it unknown — never
 * "not streaming" or "no lag". A replica's pg_stat_replication row is the one whose application_name
 * is its Patroni member name (`memberOf`: config node name → member, from src/sources/topology.ts),
 * else its config name. Nodes whose role or replica view is unknown are listed in `unknownNodes`.
 */
export function replicaLags(
  pg: PostgresState,
  memberOf?: ReadonlyMap<string, string>,
): {
  primary?: PgNodeState;
  primaries: PgNodeState[];
  replicas: ReplicaLag[];
  unknownNodes: { node: string; reason: string }[];
} {
  const primaries = pg.nodes.filter((n) => n.reachable && n.inRecovery === false);
  const primary = primaries.length === 1 ? primaries[0] : undefined;
  const replicas: ReplicaLag[] = [];
  const unknownNodes: { node: string; reason: string }[] = [];
  for (const n of pg.nodes) {
    if (!n.reachable) unknownNodes.push({ node: n.name, reason: `${n.name} unreachable: ${n.error?.message ?? '?'}` });
    else if (n.inRecovery === undefined)
      unknownNodes.push({ node: n.name, reason: unknownWhy(n, 'common') ?? `${n.name}: role unknown` });
    else if (n.inRecovery === true && !n.replica && (n.unknown.replica || n.unknown.wal_receiver))
      unknownNodes.push({ node: n.name, reason: unknownWhy(n, 'replica') ?? unknownWhy(n, 'wal_receiver')! });
    if (!n.reachable || n.inRecovery !== true || !n.replica) continue;
    const replicationUnknown = primary ? unknownWhy(primary, 'replication') : undefined;
    const member = memberOf?.get(n.name);
    const row =
      primary?.primary?.replication.find((r) => r.applicationName === member) ??
      primary?.primary?.replication.find((r) => r.applicationName === n.name);
    // Without the member name, a missing row may only mean the names differ: unknown, not "not streaming"
    // (unless the primary streams to nobody at all).
    const rowKnowable =
      member !== undefined ||
      primary?.primary?.replication.length === 0 ||
      (primary?.primary?.replication.some((r) => pg.nodes.some((x) => x.name === r.applicationName)) ?? false);
    let bytes: number | null = row?.replayLagBytes ?? null;
    if (bytes === null && primary?.primary?.lsnPos != null && n.replica.replayPos !== null)
      bytes = Math.max(0, primary.primary.lsnPos - n.replica.replayPos);
    // A standby that stopped replying while WAL waits for it is at least that stale (replay_lag freezes then).
    const silentFor = row && (bytes ?? 0) > 0 ? row.replyAgeS : null;
    const secondsCandidates = [row?.replayLagS, n.replica.replayDelayS, silentFor].filter(
      (x): x is number => typeof x === 'number',
    );
    const seconds = secondsCandidates.length ? Math.max(...secondsCandidates) : null;
    const wr = n.replica.walReceiver;
    let notStreamingReason: string | undefined;
    const unknown: ReplicaLag['unknown'] = {};
    if (!wr)
      notStreamingReason = 'no WAL receiver (pg_stat_wal_receiver is empty: archive recovery or replication broken)';
    else if (wr.status !== 'streaming') notStreamingReason = `WAL receiver ${wr.status}`;
    // The primary's view of this replica was not read: absent from it is not "not streaming".
    else if (replicationUnknown) unknown.not_streaming = replicationUnknown;
    else if (primary && !row && !rowKnowable)
      unknown.not_streaming = `${n.name}: no pg_stat_replication row on ${primary.name} carries its name and Patroni did not say its member name`;
    else if (primary && !row) notStreamingReason = `not in pg_stat_replication on ${primary.name}`;
    else if (row && row.state !== 'streaming')
      notStreamingReason = `replication state ${row.state ?? 'unknown'} on ${primary!.name}`;
    // Byte lag needs the primary (its replication row or its LSN); without one it is unknown, not zero.
    if (bytes === null || seconds === null)
      unknown.lag =
        replicationUnknown ??
        (primary
          ? (unknownWhy(primary, 'primary_lsn') ?? `${n.name}: lag not measurable`)
          : 'no single reachable primary to measure lag against');
    replicas.push({
      node: n.name,
      bytes,
      seconds,
      streaming: notStreamingReason === undefined,
      ...(notStreamingReason ? { notStreamingReason } : {}),
      replayPaused: n.replica.replayPaused,
      ...(row ? { state: row.state, syncState: row.syncState } : {}),
      unknown,
    });
  }
  return { ...(primary ? { primary } : {}), primaries, replicas, unknownNodes };
}

/** Config node name → Patroni member name, when Patroni is configured and answers (else names are used as they are). */
async function nodeMembers(ctx: EvalContext, pg: PostgresState): Promise<ReadonlyMap<string, string> | undefined> {
  const pat = await ctx.sources.patroni?.poll(ctx.signal);
  if (!pat?.ok) return undefined;
  return new Map(
    [...matchPostgresNodes(pg.nodes, memberAddresses(pat.value.members)).members].map(([node, m]) => [node, m.member]),
  );
}

export const postgresReplicationRule = defineRuleType({
  type: 'postgres_replication',
  summary: 'Streaming replication per replica (direct SQL): byte and time lag, not streaming, replay paused.',
  source: 'postgres',
  shape: {
    checks: z.array(z.enum(REPL_CHECKS)).min(1).prefault(['lag', 'not_streaming', 'replay_paused']),
    max_lag_bytes: z
      .number()
      .int()
      .min(0)
      .prefault(1048576)
      .meta({ description: 'Replay lag in bytes (default 1 MB = Patroni maximum_lag_on_failover).' }),
    max_lag_seconds: z.number().min(0).prefault(30).meta({
      description:
        'Replay delay in seconds (catches apply delay that byte lag misses; 0 on an idle caught-up replica).',
    }),
  },
  placeholders: {
    node: 'the replica',
    problem: REPL_CHECKS.join(' | '),
    lag_bytes: 'replay lag in bytes (or "unknown")',
    lag: 'replay lag, human readable',
    lag_seconds: 'replay delay in seconds (or "unknown")',
    lag_time: 'replay delay, human readable',
    max_lag_bytes: 'byte threshold',
    max_lag_seconds: 'seconds threshold',
    primary: 'the primary it replicates from',
    detail: 'what is wrong, one line',
  },
  defaultMessage: '{{detail}}',
  recovered: recoveredByProblem(
    {
      lag: 'replica {{node}} caught up: within {{max_lag_bytes}} bytes / {{max_lag_seconds}} s of the primary again',
      not_streaming: 'replica {{node}} streams from the primary again',
      replay_paused: 'WAL replay runs again on {{node}}',
    },
    'replication to {{node}} is healthy again',
  ),
  check: (_spec, config) => requireSource(config, 'postgres'),
  async evaluate(rule, ctx) {
    const obs = await observe(ctx, 'postgres');
    if (!obs.ok) return obs.evaluation;
    const { primary, replicas, unknownNodes } = replicaLags(obs.value, await nodeMembers(ctx, obs.value));
    const checks = new Set(rule.spec.checks);
    const findings: Finding[] = [];
    const unknown: Unknown[] = unknownNodes.map((u) => ({ labels: { node: u.node }, reason: u.reason }));
    for (const r of replicas) {
      for (const [problem, reason] of Object.entries(r.unknown))
        unknown.push({ labels: { node: r.node, problem }, reason });
      const values = {
        node: r.node,
        lag_bytes: r.bytes ?? 'unknown',
        lag: formatBytes(r.bytes),
        lag_seconds: r.seconds === null ? 'unknown' : Math.round(r.seconds * 10) / 10,
        lag_time: secondsText(r.seconds),
        max_lag_bytes: rule.spec.max_lag_bytes,
        max_lag_seconds: rule.spec.max_lag_seconds,
        primary: primary?.name ?? 'unknown',
      };
      if (checks.has('not_streaming') && !r.streaming)
        findings.push({
          labels: { node: r.node, problem: 'not_streaming' },
          values: {
            ...values,
            problem: 'not_streaming',
            detail: `replica ${r.node} is not streaming: ${r.notStreamingReason}`,
          },
        });
      const overBytes = r.bytes !== null && r.bytes > rule.spec.max_lag_bytes;
      const overSeconds = r.seconds !== null && r.seconds > rule.spec.max_lag_seconds;
      if (checks.has('lag') && (overBytes || overSeconds)) {
        findings.push({
          labels: { node: r.node, problem: 'lag' },
          values: {
            ...values,
            problem: 'lag',
            detail: `replica ${r.node} lags ${formatBytes(r.bytes)} / ${secondsText(r.seconds)} behind ${primary?.name ?? 'the primary'} (max ${formatBytes(rule.spec.max_lag_bytes)} / ${rule.spec.max_lag_seconds} s)${overBytes ? ': no longer a failover candidate' : ''}`,
          },
        });
      }
      if (checks.has('replay_paused') && r.replayPaused)
        findings.push({
          labels: { node: r.node, problem: 'replay_paused' },
          values: {
            ...values,
            problem: 'replay_paused',
            detail: `WAL replay is paused on ${r.node} (pg_wal_replay_pause): it falls behind until pg_wal_replay_resume()`,
          },
        });
    }
    return { ok: true, findings, ...(unknown.length ? { unknown } : {}) };
  },
});

const HEALTH_CHECKS = [
  'unreachable',
  'inactive_slots',
  'archiver',
  'checksums',
  'connections',
  'idle_in_transaction',
] as const;

/** The facts each health check reads: if one of them failed on a node, that check is unknown there. */
const FACTS_OF: Record<Exclude<(typeof HEALTH_CHECKS)[number], 'unreachable'>, PgFact[]> = {
  inactive_slots: ['slots'],
  archiver: ['archiver', 'common'],
  checksums: ['checksums'],
  connections: ['common'],
  idle_in_transaction: ['idle_in_transaction'],
};

export const postgresHealthRule = defineRuleType({
  type: 'postgres_health',
  summary:
    'PostgreSQL node health (direct SQL): unreachable, inactive slots retaining WAL, archiver failing, checksum failures, connections near max, long idle-in-transaction sessions.',
  source: 'postgres',
  shape: {
    checks: z
      .array(z.enum(HEALTH_CHECKS))
      .min(1)
      .prefault(['unreachable', 'inactive_slots', 'archiver', 'checksums', 'connections', 'idle_in_transaction']),
    slot_retained_bytes: z
      .number()
      .int()
      .min(0)
      .prefault(1024 ** 3)
      .meta({
        description:
          'An inactive slot retaining more WAL than this (default 1 GiB), or whose wal_status is unreserved/lost.',
      }),
    connections_ratio: z
      .number()
      .gt(0)
      .max(1)
      .prefault(0.8)
      .meta({ description: 'Client connections / (max_connections − superuser_reserved_connections).' }),
    idle_in_transaction: z
      .number()
      .int()
      .min(1)
      .prefault(300)
      .meta({ description: 'Seconds a session may stay "idle in transaction" (zombie connections after a failover).' }),
  },
  placeholders: {
    node: 'the node',
    problem: HEALTH_CHECKS.join(' | '),
    slot: 'replication slot (inactive_slots)',
    db: 'database (checksums)',
    detail: 'what is wrong, one line',
    value: 'the measured value',
    threshold: 'the threshold',
  },
  defaultMessage: '{{detail}}',
  recovered: recoveredByProblem(
    {
      unreachable: '{{node}} accepts connections again',
      inactive_slots: 'slot {{slot}} on {{node}} no longer retains too much WAL',
      archiver: 'WAL archiving on {{node}} succeeds again',
      checksums: 'no new checksum failures in {{db}} on {{node}}',
      connections: 'connections on {{node}} back under {{threshold}}',
      idle_in_transaction: 'no session on {{node}} idle in a transaction too long any more',
    },
    '{{node}} is healthy again',
  ),
  check: (_spec, config) => requireSource(config, 'postgres'),
  async evaluate(rule, ctx) {
    const obs = await observe(ctx, 'postgres');
    if (!obs.ok) return obs.evaluation;
    const checks = new Set(rule.spec.checks);
    const findings: Finding[] = [];
    const unknown: Unknown[] = [];
    for (const n of obs.value.nodes) {
      for (const [problem, facts] of Object.entries(FACTS_OF)) {
        if (!checks.has(problem as keyof typeof FACTS_OF)) continue;
        const missing = n.reachable ? facts.find((x) => n.unknown[x]) : 'connection';
        if (missing)
          unknown.push({
            labels: { node: n.name, problem },
            reason: `${n.name}: ${missing} unknown (${(n.reachable ? n.unknown[missing as PgFact]?.message : n.error?.message) ?? '?'})`,
          });
      }
      const f = (
        problem: string,
        detail: string,
        value: string | number,
        threshold: string | number,
        extra: Record<string, string> = {},
        samples?: string[],
      ) =>
        findings.push({
          labels: { node: n.name, problem, ...extra },
          values: { node: n.name, problem, slot: '', db: '', ...extra, detail, value, threshold },
          ...(samples?.length ? { samples } : {}),
        });
      if (!n.reachable) {
        if (checks.has('unreachable'))
          f(
            'unreachable',
            `cannot connect to PostgreSQL on ${n.name} (${n.target}): ${n.error?.message ?? 'unknown error'}`,
            n.error?.kind ?? 'unreachable',
            '',
          );
        continue;
      }
      if (n.error && checks.has('unreachable'))
        f('unreachable', `queries fail on ${n.name}: ${n.error.message}`, n.error.kind, '');
      if (checks.has('inactive_slots')) {
        for (const s of n.primary?.slots ?? []) {
          const lost = s.walStatus === 'unreserved' || s.walStatus === 'lost';
          if (s.active || (!lost && (s.retainedBytes ?? 0) <= rule.spec.slot_retained_bytes)) continue;
          f(
            'inactive_slots',
            `inactive slot ${s.name} on ${n.name} retains ${formatBytes(s.retainedBytes)} of WAL${s.walStatus ? ` (wal_status ${s.walStatus})` : ''}: pg_wal grows until the disk fills`,
            s.retainedBytes ?? 0,
            rule.spec.slot_retained_bytes,
            { slot: s.name },
          );
        }
      }
      const arch = n.primary?.archiver;
      if (checks.has('archiver') && arch?.failing && n.archiveMode !== 'off') {
        f(
          'archiver',
          `WAL archiving fails on ${n.name}: last failed ${arch.lastFailedWal ?? '?'} at ${arch.lastFailedTime ?? '?'} (${arch.failedCount} failures; last success ${arch.lastArchivedTime ?? 'never'})`,
          arch.failedCount,
          0,
        );
      }
      if (checks.has('checksums'))
        for (const c of n.checksumFailures)
          f(
            'checksums',
            `${c.failures} data checksum failure(s) in database ${c.db} on ${n.name} (last ${c.lastFailure ?? '?'}): data corruption`,
            c.failures,
            0,
            { db: c.db },
          );
      if (checks.has('connections') && n.maxConnections && n.connections !== undefined) {
        const usable = n.maxConnections - (n.reservedConnections ?? 0);
        if (usable > 0 && n.connections >= rule.spec.connections_ratio * usable)
          f(
            'connections',
            `${n.connections} client connections on ${n.name} of ${usable} available (max_connections ${n.maxConnections})`,
            n.connections,
            Math.ceil(rule.spec.connections_ratio * usable),
          );
      }
      if (checks.has('idle_in_transaction')) {
        const old = n.idleInTransaction.filter((s) => s.idleS >= rule.spec.idle_in_transaction);
        if (old.length) {
          const longest = Math.max(...old.map((s) => s.idleS));
          f(
            'idle_in_transaction',
            `${old.length} session(s) idle in transaction on ${n.name} for up to ${secondsText(longest)} (they hold locks and block vacuum)`,
            Math.round(longest),
            rule.spec.idle_in_transaction,
            {},
            old.map(
              (s) =>
                `pid ${s.pid} ${s.user ?? '?'}@${s.db ?? '?'} from ${s.client ?? 'local'} (${s.application || '-'}) idle ${Math.round(s.idleS)} s`,
            ),
          );
        }
      }
    }
    return { ok: true, findings, ...(unknown.length ? { unknown } : {}) };
  },
});

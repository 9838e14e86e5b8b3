import pg from 'pg';
import type { Logger } from '../../log.js';
import { failed, observed, type Observation, type SourceError } from '../observation.js';
import {
  mapArchiver,
  mapIdleInTx,
  mapReplica,
  mapReplication,
  mapSlots,
  mapWalReceiver,
  Q_ARCHIVER,
  Q_CHECKSUMS,
  Q_COMMON,
  Q_IDLE_IN_TX,
  Q_PRIMARY_LSN,
  Q_REPLICA,
  Q_REPLICATION,
  Q_SLOTS,
  Q_WAL_RECEIVER,
  type ArchiverRow,
  type IdleInTxRow,
  type ReplicaRow,
  type ReplicationRowPg,
  type SlotRow,
  type WalReceiverRow,
} from './queries.js';

/** The facts one node poll reads, one query each. */
export type PgFact =
  | 'common'
  | 'idle_in_transaction'
  | 'checksums'
  | 'primary_lsn'
  | 'replication'
  | 'slots'
  | 'archiver'
  | 'replica'
  | 'wal_receiver';

export interface PgNodeState {
  name: string;
  /** host:port, never credentials */
  target: string;
  reachable: boolean;
  /** Why the connection failed (reachable false), or the first query that failed after it succeeded. */
  error?: SourceError;
  /**
   * Facts whose query failed (or never ran: the connection broke, the deadline passed) on a
   * reachable node: unknown, not empty. `common` unknown means the role (in recovery or not) is unknown.
   */
  unknown: Partial<Record<PgFact, SourceError>>;
  inRecovery?: boolean;
  serverVersion?: number;
  maxConnections?: number;
  reservedConnections?: number;
  connections?: number;
  archiveMode?: string;
  idleInTransaction: IdleInTxRow[];
  checksumFailures: { db: string; failures: number; lastFailure: string | null }[];
  /** Primary (not in recovery) only. */
  primary?: {
    lsnPos: number | null;
    lsn: string | null;
    replication: ReplicationRowPg[];
    slots: SlotRow[];
    archiver?: ArchiverRow;
  };
  /** Replica (in recovery) only. */
  replica?: ReplicaRow & { walReceiver: WalReceiverRow | null };
}

export interface PostgresState {
  at: number;
  nodes: PgNodeState[];
}

export interface PostgresClientOptions {
  nodes: { name: string; dsn: string }[];
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  /** Wall-clock limit for one node's whole poll (connect + every query); default connect + 2 × statement timeout. */
  deadlineMs?: number;
}

export interface PostgresSource {
  readonly nodes: readonly { name: string }[];
  /** Connects to every node in parallel; an unreachable node is a node state, not a failed poll. Fails only when no node answered. */
  poll(signal?: AbortSignal): Promise<Observation<PostgresState>>;
}

export function targetOf(dsn: string): string {
  try {
    const u = new URL(dsn);
    return `${u.hostname}:${u.port || '5432'}`;
  } catch {
    const host = /host=(\S+)/.exec(dsn)?.[1] ?? '?';
    const port = /port=(\d+)/.exec(dsn)?.[1] ?? '5432';
    return `${host}:${port}`;
  }
}

export function classify(e: unknown, connectTimeoutMs: number): SourceError {
  const err = e as { code?: string; message?: string };
  const msg = (err.message ?? String(e)).split('\n')[0]!;
  if (err.code === 'ECONNREFUSED') return { kind: 'unreachable', message: 'connection refused' };
  if (err.code === 'EHOSTUNREACH' || err.code === 'ENOTFOUND')
    return { kind: 'unreachable', message: err.code === 'ENOTFOUND' ? 'host not found' : 'host unreachable' };
  if (/timeout/i.test(msg))
    return {
      kind: 'timeout',
      message: /connection/i.test(msg) ? `connect timed out after ${connectTimeoutMs}ms` : msg,
    };
  if (err.code === '28P01' || err.code === '28000') return { kind: 'auth', message: msg };
  if (err.code === '57P03') return { kind: 'unreachable', message: `not accepting connections: ${msg}` };
  if (err.code && /^[0-9A-Z]{5}$/.test(err.code)) return { kind: 'query_failed', message: `${err.code} ${msg}` };
  return { kind: 'unreachable', message: msg };
}

/** What one node's facts need: a replica's receiver is read only if its replica row was, and so on. */
const PRIMARY_FACTS: PgFact[] = ['primary_lsn', 'replication', 'slots', 'archiver'];
const REPLICA_FACTS: PgFact[] = ['replica', 'wal_receiver'];

/**
 * Reads one node. A failed connection makes the node unreachable; a query failing after that
 * marks only its own fact unknown (a statement timeout leaves the session usable, so later
 * queries still run); a broken connection or the deadline marks every fact not yet read unknown.
 */
export async function pollNode(
  node: { name: string; dsn: string },
  o: PostgresClientOptions,
  signal?: AbortSignal,
): Promise<PgNodeState> {
  const target = targetOf(node.dsn);
  const st: PgNodeState = {
    name: node.name,
    target,
    reachable: false,
    unknown: {},
    idleInTransaction: [],
    checksumFailures: [],
  };
  const deadlineMs = o.deadlineMs ?? o.connectTimeoutMs + 2 * o.statementTimeoutMs;
  const deadline = AbortSignal.timeout(deadlineMs);
  const stop = signal ? AbortSignal.any([signal, deadline]) : deadline;
  const client = new pg.Client({
    connectionString: node.dsn,
    connectionTimeoutMillis: o.connectTimeoutMs,
    statement_timeout: o.statementTimeoutMs,
    query_timeout: o.statementTimeoutMs + 500,
    application_name: 'odoo-ha-watch',
    keepAlive: false,
  });
  client.on('error', () => {}); // a server going away mid-poll surfaces through the failed query
  /** Set once the session is unusable: every fact not read yet is unknown for this reason. */
  let broken: SourceError | undefined;
  const stopped = (): SourceError =>
    deadline.aborted
      ? { kind: 'timeout', message: `poll deadline of ${deadlineMs}ms passed`, target }
      : { kind: 'unreachable', message: 'cancelled', target };
  const onAbort = () => {
    broken ??= stopped();
    void client.end().catch(() => {});
  };
  stop.addEventListener('abort', onAbort, { once: true });
  const markUnknown = (fact: PgFact, e: SourceError) => {
    st.unknown[fact] ??= e;
    st.error ??= e;
  };
  /** One fact's rows, or undefined (the fact is marked unknown). */
  const read = async (fact: PgFact, sql: string): Promise<Record<string, unknown>[] | undefined> => {
    if (broken) {
      markUnknown(fact, broken);
      return undefined;
    }
    try {
      return (await client.query(sql)).rows as Record<string, unknown>[];
    } catch (e) {
      const err: SourceError = broken ?? { ...classify(e, o.connectTimeoutMs), target };
      // A server error (SQLSTATE: statement timeout, permission denied) leaves the session usable; anything else does not.
      if (!broken && !isServerError(e)) broken = err;
      markUnknown(fact, err);
      return undefined;
    }
  };
  try {
    try {
      if (stop.aborted) throw Object.assign(new Error('cancelled'), { code: 'ERR_CANCELED' });
      await client.connect();
    } catch (e) {
      st.error = broken ?? { ...classify(e, o.connectTimeoutMs), target };
      return st;
    }
    st.reachable = true;
    const commonRows = await read('common', Q_COMMON);
    if (commonRows) {
      const common = commonRows[0] ?? {};
      st.inRecovery = common['in_recovery'] === true;
      st.serverVersion = Number(common['version']);
      st.maxConnections = Number(common['max_connections']);
      st.reservedConnections = Number(common['reserved_connections']);
      st.connections = Number(common['connections']);
      st.archiveMode = String(common['archive_mode']);
    }
    const idle = await read('idle_in_transaction', Q_IDLE_IN_TX);
    if (idle) st.idleInTransaction = mapIdleInTx(idle);
    if (st.serverVersion === undefined) markUnknown('checksums', st.unknown.common!);
    else if (st.serverVersion >= 120000) {
      const rows = await read('checksums', Q_CHECKSUMS);
      if (rows)
        st.checksumFailures = rows.map((r) => ({
          db: String(r['datname']),
          failures: Number(r['failures']),
          lastFailure: r['last_failure'] === null ? null : String(r['last_failure']),
        }));
    }
    if (st.inRecovery === undefined) {
      // Role unknown: so is everything role-specific.
      for (const f of [...PRIMARY_FACTS, ...REPLICA_FACTS]) markUnknown(f, st.unknown.common!);
    } else if (!st.inRecovery) {
      const lsnRows = await read('primary_lsn', Q_PRIMARY_LSN);
      const lsn = lsnRows?.[0] ?? {};
      const replication = await read('replication', Q_REPLICATION);
      const slots = await read('slots', Q_SLOTS);
      st.primary = {
        lsnPos: lsn['lsn_pos'] === null || lsn['lsn_pos'] === undefined ? null : Number(lsn['lsn_pos']),
        lsn: lsn['lsn'] === undefined || lsn['lsn'] === null ? null : String(lsn['lsn']),
        replication: replication ? mapReplication(replication) : [],
        slots: slots ? mapSlots(slots) : [],
      };
      const archRows = await read('archiver', Q_ARCHIVER);
      const arch = archRows ? mapArchiver(archRows[0]) : undefined;
      if (arch) st.primary.archiver = arch;
    } else {
      const repRows = await read('replica', Q_REPLICA);
      const rep = repRows ? mapReplica(repRows[0]) : undefined;
      if (rep) {
        const wr = await read('wal_receiver', Q_WAL_RECEIVER);
        if (wr) st.replica = { ...rep, walReceiver: mapWalReceiver(wr) };
      } else if (st.unknown.replica) markUnknown('wal_receiver', st.unknown.replica);
    }
  } finally {
    stop.removeEventListener('abort', onAbort);
    await client.end().catch(() => {});
  }
  return st;
}

function isServerError(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

export function createPostgresSource(o: PostgresClientOptions, logger?: Logger): PostgresSource {
  return {
    nodes: o.nodes.map((n) => ({ name: n.name })),
    async poll(signal) {
      const at = new Date();
      const nodes = await Promise.all(o.nodes.map((n) => pollNode(n, o, signal)));
      if (nodes.every((n) => !n.reachable)) {
        const detail = nodes.map((n) => `${n.name}: ${n.error?.message ?? '?'}`).join('; ');
        logger?.debug({ detail }, 'postgres: no node answered');
        return failed(
          'postgres',
          { kind: nodes[0]?.error?.kind ?? 'unreachable', message: `no PostgreSQL node answered (${detail})` },
          at,
        );
      }
      return observed('postgres', { at: at.getTime(), nodes }, at);
    },
  };
}

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

export interface PgNodeState {
  name: string;
  /** host:port, never credentials */
  target: string;
  reachable: boolean;
  error?: SourceError;
  inRecovery?: boolean;
  serverVersion?: number;
  maxConnections?: number;
  reservedConnections?: number;
  connections?: number;
  archiveMode?: string;
  idleInTransaction: IdleInTxRow[];
  checksumFailures: { db: string; failures: number; lastFailure: string | null }[];
  /** Primary (not in recovery) only. */
  primary?: { lsnPos: number | null; lsn: string | null; replication: ReplicationRowPg[]; slots: SlotRow[]; archiver?: ArchiverRow };
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

function classify(e: unknown, connectTimeoutMs: number): SourceError {
  const err = e as { code?: string; message?: string };
  const msg = (err.message ?? String(e)).split('\n')[0]!;
  if (err.code === 'ECONNREFUSED') return { kind: 'unreachable', message: 'connection refused' };
  if (err.code === 'EHOSTUNREACH' || err.code === 'ENOTFOUND') return { kind: 'unreachable', message: err.code === 'ENOTFOUND' ? 'host not found' : 'host unreachable' };
  if (/timeout/i.test(msg)) return { kind: 'timeout', message: /connection/i.test(msg) ? `connect timed out after ${connectTimeoutMs}ms` : msg };
  if (err.code === '28P01' || err.code === '28000') return { kind: 'auth', message: msg };
  if (err.code === '57P03') return { kind: 'unreachable', message: `not accepting connections: ${msg}` };
  if (err.code && /^[0-9A-Z]{5}$/.test(err.code)) return { kind: 'query_failed', message: `${err.code} ${msg}` };
  return { kind: 'unreachable', message: msg };
}

export async function pollNode(node: { name: string; dsn: string }, o: PostgresClientOptions, signal?: AbortSignal): Promise<PgNodeState> {
  const target = targetOf(node.dsn);
  const st: PgNodeState = { name: node.name, target, reachable: false, idleInTransaction: [], checksumFailures: [] };
  const client = new pg.Client({
    connectionString: node.dsn,
    connectionTimeoutMillis: o.connectTimeoutMs,
    statement_timeout: o.statementTimeoutMs,
    query_timeout: o.statementTimeoutMs + 500,
    application_name: 'odoo-ha-watch',
    keepAlive: false,
  });
  client.on('error', () => {}); // a server going away mid-poll surfaces through the failed query
  const onAbort = () => void client.end().catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect();
    st.reachable = true;
    const q = async (sql: string) => (await client.query(sql)).rows as Record<string, unknown>[];
    const common = (await q(Q_COMMON))[0] ?? {};
    st.inRecovery = common['in_recovery'] === true;
    st.serverVersion = Number(common['version']);
    st.maxConnections = Number(common['max_connections']);
    st.reservedConnections = Number(common['reserved_connections']);
    st.connections = Number(common['connections']);
    st.archiveMode = String(common['archive_mode']);
    st.idleInTransaction = mapIdleInTx(await q(Q_IDLE_IN_TX));
    if (st.serverVersion >= 120000) {
      st.checksumFailures = (await q(Q_CHECKSUMS)).map((r) => ({ db: String(r['datname']), failures: Number(r['failures']), lastFailure: r['last_failure'] === null ? null : String(r['last_failure']) }));
    }
    if (!st.inRecovery) {
      const lsn = (await q(Q_PRIMARY_LSN))[0] ?? {};
      st.primary = {
        lsnPos: lsn['lsn_pos'] === null || lsn['lsn_pos'] === undefined ? null : Number(lsn['lsn_pos']),
        lsn: lsn['lsn'] === undefined || lsn['lsn'] === null ? null : String(lsn['lsn']),
        replication: mapReplication(await q(Q_REPLICATION)),
        slots: mapSlots(await q(Q_SLOTS)),
      };
      const arch = mapArchiver((await q(Q_ARCHIVER))[0]);
      if (arch) st.primary.archiver = arch;
    } else {
      const rep = mapReplica((await q(Q_REPLICA))[0]);
      if (rep) st.replica = { ...rep, walReceiver: mapWalReceiver(await q(Q_WAL_RECEIVER)) };
    }
  } catch (e) {
    st.error = { ...classify(e, o.connectTimeoutMs), target };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await client.end().catch(() => {});
  }
  return st;
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
        return failed('postgres', { kind: nodes[0]?.error?.kind ?? 'unreachable', message: `no PostgreSQL node answered (${detail})` }, at);
      }
      return observed('postgres', { at: at.getTime(), nodes }, at);
    },
  };
}

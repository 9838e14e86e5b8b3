/**
 * SQL run as the monitoring role (pg_monitor) on each node directly, and pure mappers from the
 * rows to typed values. PostgreSQL 12+ (checksum_failures), 13+ columns are avoided except
 * `wal_status`/`safe_wal_size`, read only when present.
 */

export const Q_COMMON = `
SELECT pg_is_in_recovery() AS in_recovery,
       current_setting('server_version_num')::int AS version,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS reserved_connections,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS connections,
       current_setting('archive_mode') AS archive_mode`;

export const Q_IDLE_IN_TX = `
SELECT pid, usename, datname, application_name, client_addr::text AS client_addr,
       EXTRACT(EPOCH FROM now() - state_change)::float8 AS idle_s
FROM pg_stat_activity
WHERE state IN ('idle in transaction', 'idle in transaction (aborted)')
ORDER BY state_change
LIMIT 10`;

export const Q_CHECKSUMS = `
SELECT coalesce(datname, '(shared)') AS datname, checksum_failures::float8 AS failures, checksum_last_failure::text AS last_failure
FROM pg_stat_database WHERE coalesce(checksum_failures, 0) > 0`;

/** Primary: one row per standby. NULL *_lag intervals when the standby caught up and WAL is idle. */
export const Q_REPLICATION = `
SELECT application_name, client_addr::text AS client_addr, state, sync_state,
       pg_wal_lsn_diff(pg_current_wal_lsn(), sent_lsn)::float8 AS sent_lag_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::float8 AS flush_lag_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS replay_lag_bytes,
       (replay_lsn = sent_lsn) AS replay_caught_up,
       EXTRACT(EPOCH FROM write_lag)::float8 AS write_lag_s,
       EXTRACT(EPOCH FROM replay_lag)::float8 AS replay_lag_s,
       EXTRACT(EPOCH FROM now() - reply_time)::float8 AS reply_age_s
FROM pg_stat_replication`;

export const Q_PRIMARY_LSN = `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS lsn_pos, pg_current_wal_lsn()::text AS lsn`;

export const Q_SLOTS = `SELECT to_jsonb(s) AS slot, pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::float8 AS retained_bytes FROM pg_replication_slots s`;

export const Q_ARCHIVER = `
SELECT archived_count::float8 AS archived_count, failed_count::float8 AS failed_count, last_failed_wal,
       last_failed_time::text AS last_failed_time, last_archived_time::text AS last_archived_time,
       (last_failed_time IS NOT NULL AND (last_archived_time IS NULL OR last_failed_time > last_archived_time)) AS failing
FROM pg_stat_archiver`;

/** Replica: receive/replay positions; replay delay is 0 when nothing is left to replay (idle primary). */
export const Q_REPLICA = `
SELECT pg_last_wal_receive_lsn()::text AS receive_lsn, pg_last_wal_replay_lsn()::text AS replay_lsn,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')::float8 AS receive_pos,
       pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::float8 AS replay_pos,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8 AS apply_backlog_bytes,
       pg_is_wal_replay_paused() AS replay_paused,
       (CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
             ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END)::float8 AS replay_delay_s`;

export const Q_WAL_RECEIVER = `
SELECT status, sender_host, sender_port, slot_name,
       EXTRACT(EPOCH FROM now() - last_msg_receipt_time)::float8 AS last_msg_age_s
FROM pg_stat_wal_receiver`;

export interface ReplicationRowPg {
  applicationName: string;
  clientAddr: string | null;
  state: string | null;
  syncState: string | null;
  sentLagBytes: number | null;
  flushLagBytes: number | null;
  replayLagBytes: number | null;
  /** Seconds; a NULL interval on a caught-up standby reads as 0, otherwise null = unknown. */
  replayLagS: number | null;
  writeLagS: number | null;
  replyAgeS: number | null;
}

export interface SlotRow {
  name: string;
  type: string;
  active: boolean;
  retainedBytes: number | null;
  walStatus?: string;
  safeWalSize?: number | null;
}

export interface ArchiverRow {
  archivedCount: number;
  failedCount: number;
  lastFailedWal: string | null;
  lastFailedTime: string | null;
  lastArchivedTime: string | null;
  /** The most recent attempt failed (last failure newer than the last success). */
  failing: boolean;
}

export interface IdleInTxRow {
  pid: number;
  user: string | null;
  db: string | null;
  application: string | null;
  client: string | null;
  idleS: number;
}

export interface ReplicaRow {
  receiveLsn: string | null;
  replayLsn: string | null;
  receivePos: number | null;
  replayPos: number | null;
  applyBacklogBytes: number | null;
  replayPaused: boolean;
  replayDelayS: number | null;
}

export interface WalReceiverRow {
  status: string;
  senderHost: string | null;
  senderPort: number | null;
  slotName: string | null;
  lastMsgAgeS: number | null;
}

type Row = Record<string, unknown>;
const n = (v: unknown): number | null =>
  v === null || v === undefined ? null : typeof v === 'number' ? v : Number.isFinite(Number(v)) ? Number(v) : null;
const s = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function mapReplication(rows: readonly Row[]): ReplicationRowPg[] {
  return rows.map((r) => {
    const replayLagBytes = n(r['replay_lag_bytes']);
    let replayLagS = n(r['replay_lag_s']);
    // "If the standby has caught up and there is no more WAL activity ... lag shows NULL": that is 0.
    if (replayLagS === null && (r['replay_caught_up'] === true || replayLagBytes === 0)) replayLagS = 0;
    let writeLagS = n(r['write_lag_s']);
    if (writeLagS === null && (r['replay_caught_up'] === true || replayLagBytes === 0)) writeLagS = 0;
    return {
      applicationName: s(r['application_name']) ?? '',
      clientAddr: s(r['client_addr']),
      state: s(r['state']),
      syncState: s(r['sync_state']),
      sentLagBytes: n(r['sent_lag_bytes']),
      flushLagBytes: n(r['flush_lag_bytes']),
      replayLagBytes,
      replayLagS,
      writeLagS,
      replyAgeS: n(r['reply_age_s']),
    };
  });
}

export function mapSlots(rows: readonly Row[]): SlotRow[] {
  return rows.map((r) => {
    const slot = (r['slot'] ?? {}) as Row;
    const out: SlotRow = {
      name: s(slot['slot_name']) ?? '',
      type: s(slot['slot_type']) ?? '',
      active: slot['active'] === true,
      retainedBytes: n(r['retained_bytes']),
    };
    if (slot['wal_status'] !== undefined && slot['wal_status'] !== null) out.walStatus = String(slot['wal_status']);
    if ('safe_wal_size' in slot) out.safeWalSize = n(slot['safe_wal_size']);
    return out;
  });
}

export function mapArchiver(r: Row | undefined): ArchiverRow | undefined {
  if (!r) return undefined;
  return {
    archivedCount: n(r['archived_count']) ?? 0,
    failedCount: n(r['failed_count']) ?? 0,
    lastFailedWal: s(r['last_failed_wal']),
    lastFailedTime: s(r['last_failed_time']),
    lastArchivedTime: s(r['last_archived_time']),
    failing: r['failing'] === true,
  };
}

export function mapIdleInTx(rows: readonly Row[]): IdleInTxRow[] {
  return rows.map((r) => ({
    pid: n(r['pid']) ?? 0,
    user: s(r['usename']),
    db: s(r['datname']),
    application: s(r['application_name']),
    client: s(r['client_addr']),
    idleS: n(r['idle_s']) ?? 0,
  }));
}

export function mapReplica(r: Row | undefined): ReplicaRow | undefined {
  if (!r) return undefined;
  return {
    receiveLsn: s(r['receive_lsn']),
    replayLsn: s(r['replay_lsn']),
    receivePos: n(r['receive_pos']),
    replayPos: n(r['replay_pos']),
    applyBacklogBytes: n(r['apply_backlog_bytes']),
    replayPaused: r['replay_paused'] === true,
    replayDelayS: n(r['replay_delay_s']),
  };
}

export function mapWalReceiver(rows: readonly Row[]): WalReceiverRow | null {
  const r = rows[0];
  if (!r) return null; // no row: not streaming (archive recovery, or replication broken)
  return {
    status: s(r['status']) ?? 'unknown',
    senderHost: s(r['sender_host']),
    senderPort: n(r['sender_port']),
    slotName: s(r['slot_name']),
    lastMsgAgeS: n(r['last_msg_age_s']),
  };
}

/**
 * pollNode with the real `pg` client against a loopback PostgreSQL-shaped server: a query failing
 * after the connection succeeded is an unknown fact on that node, never an empty one; a query that
 * never answers is cut at the node poll's wall-clock deadline.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pollNode, type PostgresClientOptions } from '../../src/sources/postgres/client.js';
import { replicaLags } from '../../src/rules/types/postgres.js';
import { startFakePostgres, type Answer, type FakePostgres } from '../support/fake-postgres.js';

const primaryAnswers =
  (over: (sql: string) => Answer | undefined) =>
  (sql: string): Answer => {
    const o = over(sql);
    if (o) return o;
    if (sql.includes('pg_is_in_recovery() AS in_recovery'))
      return {
        rows: [
          {
            in_recovery: false,
            version: 150008,
            max_connections: 100,
            reserved_connections: 3,
            connections: 7,
            archive_mode: 'off',
          },
        ],
      };
    if (sql.includes('FROM pg_stat_replication'))
      return {
        rows: [
          {
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
            reply_age_s: 0.5,
          },
        ],
      };
    if (sql.includes('AS lsn_pos')) return { rows: [{ lsn_pos: 50331648, lsn: '0/3000000' }] };
    if (sql.includes('pg_stat_archiver'))
      return {
        rows: [
          {
            archived_count: 0,
            failed_count: 0,
            last_failed_wal: null,
            last_failed_time: null,
            last_archived_time: null,
            failing: false,
          },
        ],
      };
    return { rows: [] }; // idle in transaction, checksums, slots: none
  };

const servers: FakePostgres[] = [];
after(async () => {
  for (const s of servers) await s.close();
});
const opts = (dsn: string, o: Partial<PostgresClientOptions> = {}): PostgresClientOptions => ({
  nodes: [{ name: 'pg1', dsn }],
  connectTimeoutMs: 1000,
  statementTimeoutMs: 1000,
  ...o,
});

describe('pollNode against a PostgreSQL-shaped server', () => {
  it('reads a healthy primary', async () => {
    const pg = await startFakePostgres(primaryAnswers(() => undefined));
    servers.push(pg);
    const st = await pollNode({ name: 'pg1', dsn: pg.dsn }, opts(pg.dsn));
    assert.deepEqual(
      [st.reachable, st.inRecovery, st.connections, st.unknown, st.error],
      [true, false, 7, {}, undefined],
    );
    assert.deepEqual(
      st.primary?.replication.map((r) => r.applicationName),
      ['pg2'],
    );
  });

  it('a statement timeout on pg_stat_replication: only that fact is unknown, later queries still run', async () => {
    const pg = await startFakePostgres(
      primaryAnswers((sql) =>
        sql.includes('FROM pg_stat_replication')
          ? { error: { code: '57014', message: 'canceling statement due to statement timeout' } }
          : undefined,
      ),
    );
    servers.push(pg);
    const st = await pollNode({ name: 'pg1', dsn: pg.dsn }, opts(pg.dsn));
    assert.equal(st.reachable, true);
    assert.deepEqual(Object.keys(st.unknown), ['replication']);
    assert.deepEqual(
      [st.unknown.replication!.kind, st.unknown.replication!.message],
      ['timeout', 'canceling statement due to statement timeout'],
    );
    assert.ok(st.primary?.archiver, 'the archiver query after the failed one still ran');
    assert.ok(pg.queries.some((q) => q.includes('pg_stat_archiver')));
    // the replicas are not "not in pg_stat_replication": that is unknown
    const replica = {
      name: 'pg2',
      target: '',
      reachable: true,
      unknown: {},
      inRecovery: true,
      idleInTransaction: [],
      checksumFailures: [],
      replica: {
        receiveLsn: null,
        replayLsn: null,
        receivePos: 50331648,
        replayPos: 50331648,
        applyBacklogBytes: 0,
        replayPaused: false,
        replayDelayS: 0,
        walReceiver: { status: 'streaming', senderHost: null, senderPort: null, slotName: null, lastMsgAgeS: 0 },
      },
    };
    const lags = replicaLags({ at: 0, nodes: [st, replica] });
    assert.deepEqual(
      [lags.replicas[0]!.streaming, lags.replicas[0]!.unknown.not_streaming !== undefined, lags.replicas[0]!.bytes],
      [true, true, 0],
    );
  });

  it('a query that never answers is cut at the deadline: the rest is unknown, the node still reachable', async () => {
    const pg = await startFakePostgres(
      primaryAnswers((sql) => (sql.includes('FROM pg_stat_replication') ? 'hang' : undefined)),
    );
    servers.push(pg);
    const started = performance.now();
    // query_timeout (statement + 500 ms) would cut each query; the deadline bounds the whole node poll.
    const st = await pollNode(
      { name: 'pg1', dsn: pg.dsn },
      opts(pg.dsn, { statementTimeoutMs: 5000, deadlineMs: 1200 }),
    );
    const ms = performance.now() - started;
    assert.ok(ms < 2500, `${ms} ms`);
    assert.equal(st.reachable, true);
    assert.equal(st.inRecovery, false);
    assert.deepEqual(Object.keys(st.unknown).sort(), ['archiver', 'replication', 'slots']);
    assert.equal(st.unknown.replication!.kind, 'timeout');
    assert.match(st.unknown.replication!.message, /deadline of 1200ms/);
  });
});

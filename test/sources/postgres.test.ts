import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { replicaLags } from '../../src/rules/types/postgres.js';
import type { PgNodeState } from '../../src/sources/postgres/client.js';
import { targetOf } from '../../src/sources/postgres/client.js';
import {
  mapArchiver,
  mapReplica,
  mapReplication,
  mapSlots,
  mapWalReceiver,
} from '../../src/sources/postgres/queries.js';

const row = (o: Record<string, unknown>) => ({
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

describe('postgres rows', () => {
  it('NULL replay_lag on a caught-up standby is 0; NULL while behind stays unknown', () => {
    assert.equal(mapReplication([row({})])[0]!.replayLagS, 0);
    const behind = mapReplication([row({ replay_lag_bytes: 4096, replay_caught_up: false })])[0]!;
    assert.equal(behind.replayLagS, null);
    assert.equal(behind.replayLagBytes, 4096);
    assert.equal(
      mapReplication([row({ replay_lag_s: 2.5, replay_lag_bytes: 10, replay_caught_up: false })])[0]!.replayLagS,
      2.5,
    );
  });

  it('slots, archiver, WAL receiver (no row = not streaming)', () => {
    const s = mapSlots([
      {
        slot: { slot_name: 'pg1', slot_type: 'physical', active: false, wal_status: 'extended', safe_wal_size: null },
        retained_bytes: 2e9,
      },
    ])[0]!;
    assert.deepEqual(s, {
      name: 'pg1',
      type: 'physical',
      active: false,
      retainedBytes: 2e9,
      walStatus: 'extended',
      safeWalSize: null,
    });
    assert.equal(
      mapArchiver({
        archived_count: 3,
        failed_count: 2,
        failing: true,
        last_failed_wal: '0000000100000000000000A',
        last_failed_time: 't',
        last_archived_time: null,
      })!.failing,
      true,
    );
    assert.equal(mapWalReceiver([]), null);
    assert.equal(
      mapWalReceiver([
        { status: 'streaming', sender_host: '127.0.0.1', sender_port: 15432, slot_name: 'pg2', last_msg_age_s: 0.5 },
      ])!.status,
      'streaming',
    );
    assert.equal(
      mapReplica({
        receive_lsn: '0/5',
        replay_lsn: '0/5',
        receive_pos: 5,
        replay_pos: 5,
        apply_backlog_bytes: 0,
        replay_paused: true,
        replay_delay_s: 0,
      })!.replayPaused,
      true,
    );
  });

  it('DSN targets never include credentials', () => {
    assert.equal(targetOf('postgresql://ohw_monitor:secret@127.0.0.1:15432/postgres'), '127.0.0.1:15432');
    assert.equal(targetOf('host=10.0.1.11 port=5433 user=x password=y'), '10.0.1.11:5433');
  });
});

const primary = (name: string, replication: ReturnType<typeof mapReplication>): PgNodeState => ({
  name,
  target: '',
  reachable: true,
  unknown: {},
  inRecovery: false,
  idleInTransaction: [],
  checksumFailures: [],
  primary: { lsnPos: 10_000_000, lsn: '0/989680', replication, slots: [] },
});
const replica = (name: string, o: Partial<NonNullable<PgNodeState['replica']>> = {}): PgNodeState => ({
  name,
  target: '',
  reachable: true,
  unknown: {},
  inRecovery: true,
  idleInTransaction: [],
  checksumFailures: [],
  replica: {
    receiveLsn: null,
    replayLsn: null,
    receivePos: 10_000_000,
    replayPos: 10_000_000,
    applyBacklogBytes: 0,
    replayPaused: false,
    replayDelayS: 0,
    walReceiver: { status: 'streaming', senderHost: null, senderPort: null, slotName: null, lastMsgAgeS: 0 },
    ...o,
  },
});

describe('replica lag (pure)', () => {
  it('bytes from the primary, seconds = max(replay_lag, replica delay, silence while behind)', () => {
    const pg = {
      at: 0,
      nodes: [
        primary(
          'pg1',
          mapReplication([
            row({ application_name: 'pg2', replay_lag_bytes: 5_000_000, replay_caught_up: false, reply_age_s: 42 }),
            row({ application_name: 'pg3' }),
          ]),
        ),
        replica('pg2', { replayPos: 5_000_000 }),
        replica('pg3'),
      ],
    };
    const r = replicaLags(pg);
    assert.equal(r.primary?.name, 'pg1');
    assert.deepEqual(
      r.replicas.map((x) => [x.node, x.bytes, x.seconds, x.streaming]),
      [
        ['pg2', 5_000_000, 42, true],
        ['pg3', 0, 0, true],
      ],
    );
  });

  it('not streaming: no WAL receiver, or missing from pg_stat_replication', () => {
    const pg = {
      at: 0,
      nodes: [
        primary('pg1', mapReplication([row({ application_name: 'pg2' })])),
        replica('pg2', { walReceiver: null }),
        replica('pg3'),
      ],
    };
    const r = replicaLags(pg).replicas;
    assert.match(r[0]!.notStreamingReason!, /no WAL receiver/);
    assert.match(r[1]!.notStreamingReason!, /not in pg_stat_replication on pg1/);
    // no single primary: replica-only facts, byte lag unknown
    const none = replicaLags({ at: 0, nodes: [replica('pg2'), { ...primary('pg1', []), reachable: false }] });
    assert.equal(none.primary, undefined);
    assert.equal(none.replicas[0]!.bytes, null);
  });
});

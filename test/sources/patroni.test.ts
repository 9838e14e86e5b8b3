import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { trackLeader, type LeaderCursor } from '../../src/sources/patroni/leader.js';
import { mergeClusterState, type MemberPoll } from '../../src/sources/patroni/merge.js';
import {
  MalformedBody,
  parseCluster,
  parseDynamicConfig,
  parseHistory,
  parseNodeStatus,
  type NodeStatus,
} from '../../src/sources/patroni/parse.js';

const lab = (f: string) => readFileSync(new URL(`../fixtures/lab/${f}`, import.meta.url), 'utf8');

// Patroni 4.1-shaped bodies, per docs/rest_api.rst and releases.rst (roles primary / quorum_standby, lag "unknown", receive/replay lag).
const CLUSTER_4X = JSON.stringify({
  members: [
    {
      name: 'pg1',
      role: 'leader',
      state: 'running',
      api_url: 'http://10.0.1.11:8008/patroni',
      host: '10.0.1.11',
      port: 5432,
      timeline: 5,
      tags: {},
    },
    {
      name: 'pg2',
      role: 'sync_standby',
      state: 'streaming',
      host: '10.0.1.12',
      port: 5432,
      timeline: 5,
      receive_lag: 0,
      receive_lsn: '0/4000060',
      replay_lag: 16,
      replay_lsn: '0/4000050',
      lag: 16,
      lsn: '0/4000060',
    },
    {
      name: 'pg3',
      role: 'quorum_standby',
      state: 'in archive recovery',
      host: '10.0.1.13',
      port: 5432,
      timeline: 4,
      lag: 'unknown',
      pending_restart: true,
      pending_restart_reason: { max_connections: { old_value: '100', new_value: '200' } },
    },
  ],
  scope: 'odoo-cluster',
  pause: true,
  scheduled_switchover: { at: '2023-09-24T10:36:00+02:00', from: 'pg1', to: 'pg3' },
});
const PATRONI_4X_PRIMARY = JSON.stringify({
  state: 'running',
  role: 'primary',
  server_version: 160004,
  xlog: { location: 67395656 },
  timeline: 5,
  replication: [
    {
      usename: 'replicator',
      application_name: 'pg2',
      client_addr: '10.0.1.12',
      state: 'streaming',
      sync_state: 'sync',
      sync_priority: 1,
    },
  ],
  dcs_last_seen: 1692356718,
  pause: true,
  patroni: { version: '4.0.0', scope: 'odoo-cluster', name: 'pg1' },
});
const PATRONI_4X_REPLICA = JSON.stringify({
  state: 'running',
  role: 'replica',
  xlog: { received_location: 67395656, replayed_location: 67395600, replayed_timestamp: null, paused: false },
  timeline: 5,
  replication_state: 'streaming',
  patroni: { version: '4.0.0', scope: 'odoo-cluster', name: 'pg2' },
});

describe('patroni parse', () => {
  it('reads a Patroni 3.0.2 /cluster from the lab (replicas say "running", lag in bytes)', () => {
    const v = parseCluster(lab('patroni-cluster-lagging-replica.json'));
    assert.equal(v.paused, false);
    assert.deepEqual(
      v.members.map((m) => [m.name, m.role, m.state, m.lagBytes]),
      [
        ['pg1', 'leader', 'running', null],
        ['pg2', 'replica', 'running', 4860256],
        ['pg3', 'replica', 'running', 0],
      ],
    );
    assert.equal(parseCluster(lab('patroni-cluster-paused.json')).paused, true);
  });

  it('normalizes a 4.x /cluster: sync/quorum roles, archive recovery, "unknown" lag, receive/replay lag, pause, scheduled switchover', () => {
    const v = parseCluster(CLUSTER_4X);
    assert.deepEqual(
      v.members.map((m) => m.role),
      ['leader', 'sync_standby', 'quorum_standby'],
    );
    assert.equal(v.members[1]!.receiveLagBytes, 0);
    assert.equal(v.members[1]!.replayLagBytes, 16);
    assert.equal(v.members[2]!.lagBytes, null);
    assert.equal(v.members[2]!.lagUnknown, true);
    assert.equal(v.members[2]!.state, 'in archive recovery');
    assert.equal(v.members[2]!.pendingRestart, true);
    assert.deepEqual(v.members[2]!.pendingRestartReason, { max_connections: { old_value: '100', new_value: '200' } });
    assert.equal(v.paused, true);
    assert.deepEqual(v.scheduledSwitchover, { at: '2023-09-24T10:36:00+02:00', from: 'pg1', to: 'pg3' });
  });

  it('maps /patroni role "master" (≤3.x) and "primary" (4.x) to primary', () => {
    const v3 = parseNodeStatus(lab('patroni-patroni-leader.json'));
    assert.equal(v3.role, 'primary');
    assert.equal(v3.rawRole, 'master');
    assert.equal(v3.patroniVersion, '3.0.2');
    assert.equal(v3.name, undefined); // 3.0.2 does not say its own name
    assert.equal(v3.replication.length, 2);
    const v4 = parseNodeStatus(PATRONI_4X_PRIMARY);
    assert.equal(v4.role, 'primary');
    assert.equal(v4.paused, true);
    assert.equal(v4.name, 'pg1');
    const r = parseNodeStatus(PATRONI_4X_REPLICA);
    assert.equal(r.role, 'replica');
    assert.equal(r.replicationState, 'streaming');
    assert.equal(r.replayedLocation, 67395600);
    assert.equal(r.replayPaused, false);
  });

  it('parses /history (5-element lines, [] on timeline 1) and /config', () => {
    assert.deepEqual(parseHistory(lab('patroni-history-initial.json')), []);
    const h = parseHistory(
      '[[1,25623960,"no recovery target specified","2019-09-23T16:57:57+02:00","patroni2"],[2,25624000,"no recovery target specified"]]',
    );
    assert.deepEqual(h[0], {
      timeline: 1,
      lsn: 25623960,
      reason: 'no recovery target specified',
      at: '2019-09-23T16:57:57+02:00',
      newLeader: 'patroni2',
    });
    assert.equal(h[1]!.newLeader, undefined);
    const c = parseDynamicConfig(lab('patroni-config.json'));
    assert.equal(c.maximumLagOnFailover, 1048576);
    assert.equal(c.ttl, 30);
    assert.equal(parseDynamicConfig('{}').maximumLagOnFailover, 1048576);
  });

  it('rejects bodies that are not Patroni answers', () => {
    assert.throws(() => parseCluster('<html>'), MalformedBody);
    assert.throws(() => parseCluster('{"foo":1}'), MalformedBody);
    assert.throws(() => parseNodeStatus('[]'), MalformedBody);
  });
});

// ---- merge + leader tracking ----
const ok = <T>(value: T) => ({ ok: true as const, value });
const down = { ok: false as const, error: { kind: 'unreachable' as const, message: 'connection refused' } };
const node = (role: string, timeline = 1, extra: Partial<NodeStatus> = {}): NodeStatus => ({
  ...parseNodeStatus(JSON.stringify({ state: 'running', role, timeline })),
  ...extra,
});

function polls(clusterJson: string, status: Record<string, NodeStatus | 'down'>, history = '[]'): MemberPoll[] {
  return ['pg1', 'pg2', 'pg3'].map((name) => {
    const s = status[name];
    const up = s !== undefined && s !== 'down';
    return {
      name,
      url: `http://x/${name}`,
      status: up ? ok(s) : down,
      cluster: up ? ok(parseCluster(clusterJson)) : down,
      history: up ? ok(parseHistory(history)) : down,
      config: up ? ok(parseDynamicConfig(lab('patroni-config.json'))) : down,
    };
  });
}

describe('patroni merge', () => {
  it('steady lab cluster: leader pg1 healthy, both replicas failover candidates', () => {
    const c = mergeClusterState(
      polls(lab('patroni-cluster-steady.json'), { pg1: node('master'), pg2: node('replica'), pg3: node('replica') }),
      1000,
    )!;
    assert.equal(c.leader, 'pg1');
    assert.equal(c.leaderHealthy, true);
    assert.equal(c.timeline, 1);
    assert.deepEqual(
      c.members.filter((m) => m.failoverCandidate).map((m) => m.name),
      ['pg2', 'pg3'],
    );
  });

  it('a replica over maximum_lag_on_failover is not a candidate', () => {
    const c = mergeClusterState(
      polls(lab('patroni-cluster-lagging-replica.json'), {
        pg1: node('master'),
        pg2: node('replica'),
        pg3: node('replica'),
      }),
      1000,
    )!;
    const pg2 = c.members.find((m) => m.name === 'pg2')!;
    assert.equal(pg2.failoverCandidate, false);
    assert.match(pg2.notCandidateReason!, /lag 4860256 B > maximum_lag_on_failover 1048576 B/);
  });

  it('crash: the DCS still names the dead leader (stale key) but its REST is refused', () => {
    const c = mergeClusterState(
      polls(lab('patroni-cluster-failover-stale-leader.json'), {
        pg1: 'down',
        pg2: node('replica'),
        pg3: node('replica'),
      }),
      1000,
    )!;
    assert.equal(c.leader, 'pg1');
    assert.equal(c.leaderHealthy, false);
    assert.match(c.leaderProblem!, /REST API unreachable: connection refused/);
    assert.equal(c.members.find((m) => m.name === 'pg1')!.restReachable, false);
  });

  it('no leader in the DCS, the dead member gone from it', () => {
    const c = mergeClusterState(
      polls(lab('patroni-cluster-failover-no-leader.json'), {
        pg1: 'down',
        pg2: node('replica'),
        pg3: node('replica'),
      }),
      1000,
    )!;
    assert.equal(c.leader, undefined);
    assert.equal(c.leaderProblem, 'no leader in the DCS');
    const pg1 = c.members.find((m) => m.name === 'pg1')!;
    assert.equal(pg1.inDcs, false);
    assert.equal(pg1.configured, true);
  });

  it('majority wins when views disagree; ties go to the leader that confirms itself', () => {
    const p = polls(lab('patroni-cluster-steady.json'), {
      pg1: node('master'),
      pg2: node('replica'),
      pg3: node('replica'),
    });
    p[2]!.cluster = ok(parseCluster(lab('patroni-cluster-failover-no-leader.json')));
    const c = mergeClusterState(p, 1000)!;
    assert.equal(c.leader, 'pg1');
    assert.equal(c.viewsDisagree, true);
    assert.equal(mergeClusterState(polls('{"members":[]}', { pg1: 'down', pg2: 'down', pg3: 'down' }), 1), undefined);
  });

  it('a non-leader reporting itself primary is listed (split-brain hint)', () => {
    const c = mergeClusterState(
      polls(lab('patroni-cluster-steady.json'), { pg1: node('master'), pg2: node('primary'), pg3: node('replica') }),
      1000,
    )!;
    assert.deepEqual(c.otherPrimaries, ['pg2']);
  });
});

describe('patroni leader tracking (cursor)', () => {
  const steady = (leader: string, t: number, timeline = 1, history = '[]') => {
    const cl = JSON.stringify({
      members: ['pg1', 'pg2', 'pg3'].map((n) => ({
        name: n,
        role: n === leader ? 'leader' : 'replica',
        state: 'running',
        timeline,
        ...(n === leader ? {} : { lag: 0 }),
      })),
    });
    const status = Object.fromEntries(
      ['pg1', 'pg2', 'pg3'].map((n) => [n, node(n === leader ? 'master' : 'replica', timeline)]),
    );
    return mergeClusterState(polls(cl, status, history), t)!;
  };

  it('crash → failover → rejoin: down at once, one change with the new leader, timeline and write outage, closed on rejoin', () => {
    let cur: LeaderCursor | undefined;
    let s = trackLeader(cur, steady('pg1', 0));
    cur = s.cursor;
    assert.equal(s.down, undefined);
    // t=5s: pg1 killed: REST refused, DCS still names it
    s = trackLeader(
      cur,
      mergeClusterState(
        polls(lab('patroni-cluster-failover-stale-leader.json'), {
          pg1: 'down',
          pg2: node('replica'),
          pg3: node('replica'),
        }),
        5000,
      )!,
    );
    cur = s.cursor;
    assert.deepEqual([s.down?.member, s.down?.hard, s.down?.since], ['pg1', true, 5000]);
    // t=30s: key expired, no leader
    s = trackLeader(
      cur,
      mergeClusterState(
        polls(lab('patroni-cluster-failover-no-leader.json'), {
          pg1: 'down',
          pg2: node('replica'),
          pg3: node('replica'),
        }),
        30000,
      )!,
    );
    cur = s.cursor;
    assert.equal(s.down?.member, 'pg1');
    assert.match(s.down!.reason, /no leader in the DCS \(last leader pg1: REST API unreachable/);
    // t=35s: pg2 leads on timeline 2 (promoted at t=31s per /history); pg1 still dead
    const hist = JSON.stringify([[1, 83886240, 'no recovery target specified', new Date(31000).toISOString(), 'pg2']]);
    const cl = JSON.stringify({
      members: [
        { name: 'pg2', role: 'leader', state: 'running', timeline: 2 },
        { name: 'pg3', role: 'replica', state: 'running', timeline: 2, lag: 0 },
      ],
    });
    s = trackLeader(
      cur,
      mergeClusterState(polls(cl, { pg1: 'down', pg2: node('master', 2), pg3: node('replica', 2) }, hist), 35000)!,
    );
    cur = s.cursor;
    assert.equal(s.changedNow, true);
    assert.equal(s.down, undefined);
    assert.deepEqual(
      {
        from: s.change?.from,
        to: s.change?.to,
        timeline: s.change?.timeline,
        kind: s.change?.kind,
        ms: s.change?.writesImpossibleMs,
      },
      { from: 'pg1', to: 'pg2', timeline: 2, kind: 'failover', ms: 26000 },
    );
    // The cursor is plain JSON (persisted by the engine) and survives a restart.
    cur = JSON.parse(JSON.stringify(cur)) as LeaderCursor;
    s = trackLeader(
      cur,
      mergeClusterState(polls(cl, { pg1: 'down', pg2: node('master', 2), pg3: node('replica', 2) }, hist), 40000)!,
    );
    assert.equal(s.changedNow, false);
    assert.equal(s.change?.to, 'pg2');
    cur = s.cursor;
    // t=60s: pg1 back as a replica on timeline 2 → change closed
    s = trackLeader(cur, steady('pg2', 60000, 2, hist));
    assert.equal(s.change, undefined);
    assert.equal(s.down, undefined);
  });

  it('switchover: the old leader stays reachable (demoting, briefly no leader) → kind switchover, soft down', () => {
    let s = trackLeader(undefined, steady('pg1', 0));
    const noLeader = JSON.stringify({
      members: ['pg1', 'pg2', 'pg3'].map((n) => ({
        name: n,
        role: 'replica',
        state: n === 'pg1' ? 'stopped' : 'running',
        timeline: 1,
        lag: 0,
      })),
    });
    s = trackLeader(
      s.cursor,
      mergeClusterState(
        polls(noLeader, { pg1: node('demoted', 1, { state: 'stopped' }), pg2: node('replica'), pg3: node('replica') }),
        2000,
      )!,
    );
    assert.equal(s.down?.hard, false);
    s = trackLeader(s.cursor, steady('pg2', 4000, 2));
    assert.equal(s.change?.kind, 'switchover');
    assert.equal(s.change?.writesImpossibleMs, 2000);
    assert.equal(s.change, s.change && s.cursor.change);
    // old leader already a healthy replica on the new timeline: closed on the next step
    s = trackLeader(s.cursor, steady('pg2', 6000, 2));
    assert.equal(s.change, undefined);
  });

  it('a cursor from before a long pause (service stopped) is not compared against: no invented switchover', () => {
    const before = trackLeader(undefined, steady('pg1', 0)).cursor;
    // 20 minutes later pg2 leads: whatever happened meanwhile was not observed
    const s = trackLeader(JSON.parse(JSON.stringify(before)) as LeaderCursor, steady('pg2', 20 * 60_000, 2));
    assert.equal(s.change, undefined);
    assert.equal(s.changedNow, false);
    assert.equal(s.cursor.leader, 'pg2');
    // a short gap (a restart) still compares: the change is reported
    const quick = trackLeader(before, steady('pg2', 60_000, 2));
    assert.equal(quick.change?.from, 'pg1');
  });
});

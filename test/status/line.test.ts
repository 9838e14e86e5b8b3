import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveLogFormat } from '../../src/log.js';
import type { StatusMember, StatusSnapshot } from '../../src/status/snapshot.js';
import { formatStatusLine } from '../../src/status/line.js';

const member = (name: string, over: Partial<StatusMember> = {}): StatusMember => ({
  name,
  role: 'replica',
  state: 'streaming',
  timeline: 3,
  lagBytes: 0,
  lagSeconds: 0,
  pgLagBytes: null,
  restReachable: true,
  inDcs: true,
  isLeader: false,
  failoverCandidate: true,
  pendingRestart: false,
  ...over,
});
const backend = (name: string, up: number, total: number) => ({
  name,
  status: up ? 'UP' : 'DOWN',
  up,
  total,
  servers: [],
});

const healthy: StatusSnapshot = {
  cluster: 'odoo-cluster',
  at: Date.UTC(2026, 11, 5, 9, 30, 0),
  alerts: { firing: 0, pending: 0 },
  sources: [
    { name: 'patroni', state: 'ok' },
    { name: 'elasticsearch', state: 'unreachable', detail: 'ECONNREFUSED' },
  ],
  patroni: {
    ageMs: 400,
    leader: 'pg-node-1',
    leaderHealthy: true,
    timeline: 3,
    paused: false,
    maximumLagOnFailoverBytes: 1048576,
    members: [
      member('pg-node-1', { role: 'leader', isLeader: true, state: 'running' }),
      member('pg-node-2', { lagBytes: 2048 }),
      member('pg-node-3', { state: 'stopped', lagBytes: null }),
    ],
    failoverCandidates: ['pg-node-2'],
  },
  haproxy: {
    ageMs: 300,
    write: { ...backend('pg_primary', 1, 3), upServer: 'pg1', matchesLeader: true },
    apps: [backend('odoo_workers', 2, 2)],
  },
  etcd: { ageMs: 200, members: 3, healthy: 3, quorum: 2, hasQuorum: true, endpoints: [] },
};

describe('console status line', () => {
  test('a healthy cluster in one line: leader, timeline, replica lag, write routing, apps, etcd, alerts, sources down', () => {
    assert.equal(
      formatStatusLine(healthy),
      '[09:30:00] odoo-cluster · leader pg-node-1 tl 3 · replicas pg-node-2 2.0 kB, pg-node-3 stopped · writes → pg1 · odoo_workers 2/2 UP · etcd 3/3 · alerts 0 firing · elasticsearch unreachable',
    );
  });

  test('trouble reads as trouble', () => {
    const bad: StatusSnapshot = {
      ...healthy,
      alerts: { firing: 2, pending: 1 },
      patroni: { ...healthy.patroni!, leader: undefined as unknown as string },
      haproxy: { ...healthy.haproxy!, write: { ...backend('pg_primary', 0, 3) } },
      etcd: { ...healthy.etcd!, healthy: 1, hasQuorum: false },
    };
    delete (bad.patroni as { leader?: string }).leader;
    assert.match(
      formatStatusLine(bad),
      /NO LEADER .* WRITES IMPOSSIBLE .* etcd 1\/3 QUORUM LOST · alerts 2 firing, 1 pending/,
    );
  });

  test('log format: auto is human on a terminal and JSON otherwise; $LOG_FORMAT wins', () => {
    assert.equal(resolveLogFormat('auto', undefined, true), 'human');
    assert.equal(resolveLogFormat('auto', undefined, false), 'json');
    assert.equal(resolveLogFormat('human', undefined, false), 'human');
    assert.equal(resolveLogFormat('auto', 'json', true), 'json');
    assert.equal(resolveLogFormat('json', 'human', false), 'human');
    assert.equal(resolveLogFormat('json', 'bogus', true), 'json');
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Alert } from '../../src/alerts/alert.js';
import { checkPreconditions, type PreconditionInput } from '../../src/drill/preconditions.js';
import type { HaproxyStatus, PatroniStatus, StatusMember } from '../../src/status/snapshot.js';

const MB = 1024 * 1024;
const member = (name: string, over: Partial<StatusMember> = {}): StatusMember => ({
  name,
  role: 'replica',
  state: 'streaming',
  timeline: 3,
  lagBytes: 0,
  lagSeconds: 0,
  pgLagBytes: 0,
  restReachable: true,
  inDcs: true,
  isLeader: false,
  failoverCandidate: true,
  pendingRestart: false,
  ...over,
});
const patroni = (members: StatusMember[], over: Partial<PatroniStatus> = {}): PatroniStatus => ({
  ageMs: 0,
  leader: 'pg1',
  leaderHealthy: true,
  timeline: 3,
  paused: false,
  maximumLagOnFailoverBytes: MB,
  members,
  failoverCandidates: members.filter((m) => m.failoverCandidate).map((m) => m.name),
  ...over,
});
const healthy = () => [
  member('pg1', { role: 'leader', state: 'running', isLeader: true, lagBytes: null, failoverCandidate: false }),
  member('pg2', { lagBytes: 4096 }),
  member('pg3', { lagBytes: 0 }),
];
const haproxy = (upMember = 'pg1', up = 1): HaproxyStatus => ({
  ageMs: 0,
  write: {
    name: 'pg_primary',
    status: 'UP',
    up,
    total: 3,
    servers: [],
    upServer: upMember,
    upMember,
    matchesLeader: upMember === 'pg1',
  },
  apps: [
    {
      name: 'odoo_workers',
      status: 'UP',
      up: 2,
      total: 2,
      servers: [
        { name: 'odoo1', status: 'UP' },
        { name: 'odoo2', status: 'UP' },
      ],
    },
  ],
});
const input = (over: Partial<PreconditionInput> = {}): PreconditionInput => ({
  kind: 'switchover',
  patroni: patroni(healthy()),
  haproxy: haproxy(),
  firing: [],
  ...over,
});
const reasons = (i: PreconditionInput) => {
  const r = checkPreconditions(i);
  return r.ok ? [] : r.reasons;
};

test('a healthy cluster may drill; the candidate is the least-lagging replica, or --to', () => {
  assert.deepEqual(checkPreconditions(input()), { ok: true, leader: 'pg1', candidate: 'pg3' });
  assert.deepEqual(checkPreconditions(input({ to: 'pg2' })), { ok: true, leader: 'pg1', candidate: 'pg2' });
});

test('no leader, two leaders, paused: refused with the reason', () => {
  assert.match(
    reasons(
      input({
        patroni: patroni(
          healthy().map((m) => ({ ...m, isLeader: false })),
          { leader: undefined },
        ),
      }),
    ).join(),
    /there is no leader/,
  );
  assert.match(
    reasons(input({ patroni: patroni(healthy().map((m) => ({ ...m, isLeader: m.name !== 'pg3' }))) })).join(),
    /2 members claim to be leader \(pg1, pg2\)/,
  );
  assert.match(reasons(input({ patroni: patroni(healthy(), { paused: true }) })).join(), /paused/);
  assert.match(reasons(input({ patroni: undefined })).join(), /Patroni is not answering/);
});

test('replicas must stream within maximum_lag_on_failover', () => {
  const lagging = healthy().map((m) => (m.name === 'pg2' ? { ...m, lagBytes: 5 * MB } : m));
  assert.match(
    reasons(input({ patroni: patroni(lagging) })).join(),
    /pg2 lags 5\.0 MB, more than maximum_lag_on_failover \(1\.0 MB\)/,
  );
  const stopped = healthy().map((m) => (m.name === 'pg3' ? { ...m, state: 'stopped' } : m));
  assert.match(
    reasons(input({ patroni: patroni(stopped) })).join(),
    /pg3 is not streaming \(role replica, state stopped\)/,
  );
  const silent = healthy().map((m) => (m.name === 'pg3' ? { ...m, restReachable: false } : m));
  assert.match(reasons(input({ patroni: patroni(silent) })).join(), /pg3: its Patroni REST API does not answer/);
  // Patroni 3.0 says "running": direct SQL decides, unknown is refused.
  const running = healthy().map((m) => (m.isLeader ? m : { ...m, state: 'running', sqlStreaming: true }));
  assert.equal(checkPreconditions(input({ patroni: patroni(running) })).ok, true);
  const unknown = healthy().map((m) => (m.isLeader ? m : { ...m, state: 'running' }));
  assert.match(reasons(input({ patroni: patroni(unknown) })).join(), /whether it streams is unknown/);
});

test('HAProxy must route writes to the leader, and only to it', () => {
  assert.match(reasons(input({ haproxy: haproxy('pg2') })).join(), /routes to pg2, not to the leader pg1/);
  assert.match(reasons(input({ haproxy: haproxy('pg1', 2) })).join(), /has 2 servers UP \(expected exactly 1/);
  assert.match(reasons(input({ haproxy: undefined })).join(), /HAProxy stats are not readable/);
});

test('a firing critical alert refuses; a warning does not', () => {
  const a = (severity: Alert['severity']): Alert => ({
    fingerprint: 'f1',
    shortId: 'f1a2',
    ruleId: 'etcd-quorum',
    labels: {},
    state: 'firing',
    severity,
    activeSince: 0,
    lastSeenAt: 0,
    message: '',
    values: {},
  });
  assert.match(
    reasons(input({ firing: [a('critical')] })).join(),
    /1 critical alert\(s\) firing: etcd-quorum \[f1a2\]/,
  );
  assert.equal(checkPreconditions(input({ firing: [a('warning')] })).ok, true);
});

test('--to must be a promotable replica', () => {
  assert.match(reasons(input({ to: 'pg9' })).join(), /no such member/);
  assert.match(reasons(input({ to: 'pg1' })).join(), /already the leader/);
  const nofail = healthy().map((m) =>
    m.name === 'pg2' ? { ...m, failoverCandidate: false, notCandidateReason: 'nofailover tag' } : m,
  );
  assert.match(
    reasons(input({ patroni: patroni(nofail), to: 'pg2' })).join(),
    /would not promote it \(nofailover tag\)/,
  );
});

test('app-node: the node must be UP and another server must carry the traffic', () => {
  assert.equal(
    checkPreconditions(input({ kind: 'app-node', app: { backend: 'odoo_workers', server: 'odoo1' } })).ok,
    true,
  );
  const h = haproxy();
  h.apps[0]!.servers[1]!.status = 'DOWN';
  assert.match(
    reasons(input({ kind: 'app-node', haproxy: h, app: { backend: 'odoo_workers', server: 'odoo1' } })).join(),
    /no other server of odoo_workers is UP/,
  );
  assert.match(
    reasons(input({ kind: 'app-node', app: { backend: 'odoo_workers', server: 'odoo7' } })).join(),
    /odoo7 is not in backend/,
  );
});

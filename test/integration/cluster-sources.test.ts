/**
 * The cluster sources, rule packs, inhibition and status views against the real lab (root only).
 * Scenarios run one after another on one lab; every wait is bounded; no wall-clock assertions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  buildLagView,
  buildStatus,
  formatLagText,
  formatStatusText,
  type StatusMember,
} from '../../src/status/snapshot.js';
import { labSkipReason, nodeOf, startLab, type Lab, type MemberName } from '../support/lab.js';
import { ClusterHarness, sleep } from './cluster-harness.js';

const skip = labSkipReason();
const MIN = 60_000;

describe('cluster sources on the real lab', { skip, concurrency: false, timeout: 30 * MIN }, () => {
  let lab: Lab;
  let h: ClusterHarness;

  before(async () => {
    lab = await startLab();
    await lab.waitReady(120);
    h = new ClusterHarness(lab.info);
    h.start();
    await sleep(5000);
  });

  after(async () => {
    await h?.stop();
  });

  const since = (t0: number) => h.sent.filter((s) => s.at >= t0);
  const pages = (t0: number) => since(t0).filter((s) => s.kind === 'firing' && s.severity !== 'info');

  test('a healthy lab pages nobody', () => {
    assert.deepEqual(
      pages(0).map((s) => `${s.rule}: ${s.messages.join(' | ')}`),
      [],
    );
  });

  test('status and lag views agree with patronictl list', async () => {
    const status = await lab.status();
    const snap = await buildStatus(h.config, h.sources, h.store);
    const text = formatStatusText(snap);
    const leader = await lab.leader();
    assert.equal(snap.patroni?.leader, leader, text);
    for (const line of status.split('\n')) {
      const m =
        /^\|\s*(pg-node-\d)\s*\|\s*[\d.:]+\s*\|\s*(Leader|Replica|Sync Standby)\s*\|\s*(\w[\w ]*?)\s*\|\s*(\d+)\s*\|/.exec(
          line,
        );
      if (!m) continue;
      const member: StatusMember = snap.patroni!.members.find((x) => x.name === m[1])!;
      assert.equal(member.isLeader, m[2] === 'Leader', line);
      assert.equal(member.state, m[3], line);
      assert.equal(member.timeline, Number(m[4]), line);
    }
    // HAProxy's server is pgN, the member pg-node-N: joined by address (the lab's stats show-legends).
    assert.equal(snap.haproxy?.write?.upServer, `pg${nodeOf(leader)}`, text);
    assert.equal(snap.haproxy?.write?.upMember, leader, text);
    assert.equal(snap.haproxy?.write?.matchesLeader, true, text);
    assert.equal(snap.haproxy?.apps[0]?.name, 'odoo_workers');
    assert.equal(snap.etcd?.hasQuorum, true);
    assert.deepEqual(
      snap.patroni?.failoverCandidates.sort(),
      snap
        .patroni!.members.filter((x) => !x.isLeader)
        .map((x) => x.name)
        .sort(),
    );
    const lagText = formatLagText(buildLagView(snap));
    for (const r of snap.patroni!.members.filter((x) => !x.isLeader))
      assert.match(lagText, new RegExp(`${r.name}: .* behind, .* failover candidate`));
  });

  test('stop-app → odoo_workers server DOWN alert with its check reason; start-app → resolved', async () => {
    const t0 = Date.now();
    await lab.stopApp(1);
    try {
      const f = await h.waitFor(
        (s) => s.at >= t0 && s.rule === 'haproxy-odoo-server-down' && s.kind === 'firing',
        2 * MIN,
        'odoo1 DOWN',
      );
      assert.deepEqual(f.labels[0], {
        component: 'haproxy',
        backend: 'odoo_workers',
        server: 'odoo1',
        problem: 'server_down',
      });
      assert.match(f.messages[0]!, /odoo_workers\/odoo1 is DOWN .*Layer4/);
    } finally {
      await lab.startApp(1);
    }
    await h.waitFor(
      (s) => s.at >= t0 && s.rule === 'haproxy-odoo-server-down' && s.kind === 'resolved',
      2 * MIN,
      'odoo1 back UP',
    );
  });

  test('a replica made to lag → lag alert with bytes and seconds; unlag → resolved', async () => {
    const leader = await lab.leader();
    const replica = (['pg-node-1', 'pg-node-2', 'pg-node-3'] as MemberName[]).find((m) => m !== leader)!;
    const t0 = Date.now();
    await lab.lag(nodeOf(replica));
    try {
      await lab.write(3 * 1024); // 3 MiB > maximum_lag_on_failover
      const f = await h.waitFor(
        (s) => s.at >= t0 && s.rule === 'postgres-replication-lag' && s.kind === 'firing',
        3 * MIN,
        `lag alert for ${replica}`,
      );
      assert.equal(f.labels[0]!['node'], replica);
      assert.ok(Number(f.values[0]!['lag_bytes']) > 1048576, JSON.stringify(f.values[0]));
      assert.equal(typeof f.values[0]!['lag_seconds'], 'number', JSON.stringify(f.values[0]));
      const p = await h.waitFor(
        (s) => s.at >= t0 && s.rule === 'patroni-lag' && s.kind === 'firing',
        2 * MIN,
        'patroni-lag',
      );
      assert.match(p.messages[0]!, new RegExp(`replica ${replica} is .* MB behind .*no longer a failover candidate`));
    } finally {
      await lab.unlag(nodeOf(replica));
    }
    await h.waitFor(
      (s) => s.at >= t0 && s.rule === 'postgres-replication-lag' && s.kind === 'resolved',
      3 * MIN,
      'lag resolved',
    );
  });

  test('a Patroni member whose REST API is unreachable → member-down alert; back → resolved', async () => {
    const leader = await lab.leader();
    const replica = (['pg-node-1', 'pg-node-2', 'pg-node-3'] as MemberName[]).find((m) => m !== leader)!;
    const t0 = Date.now();
    await lab.stopNode(nodeOf(replica));
    try {
      const f = await h.waitFor(
        (s) => s.at >= t0 && s.rule === 'patroni-member-down' && s.kind === 'firing',
        2 * MIN,
        `${replica} down`,
      );
      assert.equal(f.labels[0]!['member'], replica);
      assert.match(f.messages[0]!, /REST API unreachable/);
    } finally {
      await lab.startNode(nodeOf(replica));
    }
    await h.waitFor(
      (s) => s.at >= t0 && s.rule === 'patroni-member-down' && s.kind === 'resolved',
      3 * MIN,
      `${replica} back`,
    );
    await lab.waitReady(120);
  });

  test('kill -9 of the primary → one page, the failover as an update of the same alert, resolved ("rejoined as a replica") when the old node rejoins', async () => {
    await lab.waitReady(120);
    await sleep(3000);
    const t0 = Date.now();
    const old = await lab.killPrimary();
    try {
      const down = await h.waitFor(
        (s) => s.at >= t0 && s.rule === 'patroni-failover' && s.kind === 'firing',
        MIN,
        'primary down',
      );
      assert.deepEqual(
        down.labels.map((l) => [l['member'], l['event']]),
        [[old, 'primary_down']],
      );
      const fo = await h.waitFor(
        (s) =>
          s.at >= t0 &&
          s.rule === 'patroni-failover' &&
          s.kind === 'update' &&
          s.messages.some((m) => m.startsWith('failover completed')),
        2 * MIN,
        'failover completed',
      );
      const newLeader = await lab.leader();
      const v = fo.values[0]!;
      assert.deepEqual(
        fo.labels.map((l) => [l['member'], l['event']]),
        [[old, 'primary_down']],
      );
      assert.equal(v['from'], old);
      assert.equal(v['to'], newLeader);
      assert.ok(Number(v['timeline']) >= 2);
      assert.ok(Number(v['writes_impossible_s']) > 0);
      assert.match(
        fo.messages.join(' '),
        new RegExp(`failover completed: ${old} → ${newLeader}, timeline \\d+, writes impossible for \\d+ s`),
      );
    } finally {
      await lab.restartNode(old);
    }
    const res = await h.waitFor(
      (s) => s.at >= t0 && s.rule === 'patroni-failover' && s.kind === 'resolved',
      3 * MIN,
      'old primary rejoined',
    );
    assert.match(res.messages[0]!, new RegExp(`^${old} rejoined as a replica on timeline \\d+, lag`));
    await lab.waitReady(120);
    // One incident, not a storm: the only page is the failover rule's first message.
    const other = pages(t0).filter((s) => s.rule !== 'patroni-failover');
    assert.deepEqual(
      other.map((s) => `${s.rule}: ${s.messages.join(' | ')}`),
      [],
      h.describe(),
    );
    assert.equal(since(t0).filter((s) => s.rule === 'patroni-failover' && s.kind === 'firing').length, 1, h.describe());
    assert.equal(
      since(t0).filter((s) => s.rule === 'patroni-failover' && s.kind === 'resolved').length,
      1,
      h.describe(),
    );
  });

  test('a planned switchover is an informational message only', async () => {
    await lab.waitReady(120);
    await sleep(3000);
    const t0 = Date.now();
    const before = await lab.leader();
    const after = await lab.switchover();
    assert.notEqual(after, before);
    const info = await h.waitFor(
      (s) => s.at >= t0 && s.rule === 'patroni-switchover' && s.kind === 'firing',
      MIN,
      'switchover message',
    );
    assert.equal(info.severity, 'info');
    assert.match(info.messages[0]!, new RegExp(`switchover: ${before} → ${after}`));
    await lab.waitReady(120);
    await sleep(75_000); // longer than every `for:` in the packs (1 m): a transient symptom would have paged by now
    assert.deepEqual(
      pages(t0).map((s) => `${s.rule}: ${s.messages.join(' | ')}`),
      [],
      h.describe(),
    );
  });
});

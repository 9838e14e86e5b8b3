/**
 * Unknown is never OK, and never a page: a source answer that is partial or malformed leaves what
 * depends on the missing part unknown — its alerts neither fire nor resolve.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AlertEngine } from '../../src/alerts/engine.js';
import { silentLogger } from '../../src/log.js';
import type { Evaluation, Unknown } from '../../src/rules/rule-type.js';
import { etcdHealthRule } from '../../src/rules/types/etcd.js';
import { haproxyBackendRule, haproxyWriteBackendRule } from '../../src/rules/types/haproxy.js';
import {
  patroniClusterRule,
  patroniLagRule,
  patroniLeaderRule,
  patroniMemberRule,
} from '../../src/rules/types/patroni.js';
import { postgresHealthRule, postgresReplicationRule, replicaLags } from '../../src/rules/types/postgres.js';
import { splitBrainRule } from '../../src/rules/types/split-brain.js';
import { parseHealth } from '../../src/sources/etcd/client.js';
import type { SourceError } from '../../src/sources/observation.js';
import type { PostgresState } from '../../src/sources/postgres/client.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { summarize } from '../support/builders.js';
import {
  etcdEndpoint,
  etcdState,
  evalCtx,
  haproxyStats,
  lab,
  patroniState,
  pgPrimary,
  pgReplica,
  pollFailed,
  replicationRow,
  ruleOf,
  sourcesOf,
  STEADY,
  steadyPatroni,
  type Observed,
} from '../support/cluster-states.js';

const evaluate = async (
  t: Parameters<typeof ruleOf>[0],
  spec: Record<string, unknown>,
  o: Observed,
): Promise<Evaluation> => t.evaluate(ruleOf(t, spec) as never, evalCtx(sourcesOf(o)));
const problems = (ev: Evaluation) => (ev.ok ? ev.findings.map((f) => f.labels) : ev);
const unknownLabels = (ev: Evaluation): Unknown['labels'][] => (ev.ok ? (ev.unknown ?? []).map((u) => u.labels) : []);
const timedOut: SourceError = {
  kind: 'timeout',
  message: 'canceling statement due to statement timeout',
  target: '127.0.0.1:5432',
};

describe('the engine keeps unknown alerts as they are', () => {
  test('a firing alert listed as unknown neither resolves nor re-fires; the rest of the evaluation applies', async () => {
    const store = new SqliteStore(':memory:');
    const engine = new AlertEngine({
      store,
      notifiers: [],
      cluster: 'c',
      logger: silentLogger,
      failingAfterMs: 60_000,
    });
    const rule = ruleOf(postgresReplicationRule, {});
    const f = (node: string) => ({ labels: { node, problem: 'lag' }, values: { detail: `${node} lags` } });
    let r = await engine.apply(rule, { ok: true, findings: [f('pg2'), f('pg3')] }, 0);
    assert.deepEqual(summarize(r.notifications), ['firing:pg2/lag,pg3/lag']);
    r = await engine.apply(
      rule,
      { ok: true, findings: [], unknown: [{ labels: { node: 'pg2' }, reason: 'pg1: replication unknown' }] },
      10_000,
    );
    assert.deepEqual(summarize(r.notifications), ['resolved:pg3/lag']);
    assert.deepEqual(
      (await store.alertsForRule(rule.id)).filter((a) => a.state === 'firing').map((a) => a.labels['node']),
      ['pg2'],
    );
    r = await engine.apply(rule, { ok: true, findings: [] }, 20_000);
    assert.deepEqual(summarize(r.notifications), ['resolved:pg2/lag']);
    await store.close();
  });
});

describe('Patroni: no /cluster view from any member while /patroni answers', () => {
  const noDcs = () => ({ patroni: patroniState(null, STEADY) });

  test('the leader is unknown, not "no leader": patroni_leader fails instead of tracking a leaderless cluster', async () => {
    const ev = await evaluate(patroniLeaderRule, {}, noDcs());
    assert.equal(ev.ok, false);
    assert.match(!ev.ok ? ev.error : '', /no member answered \/cluster/);
  });

  test('lag comes from /cluster only: patroni_lag fails', async () => {
    assert.equal((await evaluate(patroniLagRule, {}, noDcs())).ok, false);
  });

  test('member and cluster checks that need the DCS view are unknown; what /patroni tells still applies', async () => {
    const m = await evaluate(patroniMemberRule, { checks: ['down', 'timeline_behind'] }, noDcs());
    assert.deepEqual(problems(m), []);
    assert.deepEqual(unknownLabels(m), [{ problem: 'timeline_behind' }]);
    const c = await evaluate(
      patroniClusterRule,
      { checks: ['paused', 'scheduled_switchover', 'views_disagree', 'other_primary'] },
      noDcs(),
    );
    assert.deepEqual(
      unknownLabels(c).map((l) => l['problem']),
      ['scheduled_switchover', 'views_disagree', 'other_primary'],
    );
  });

  test('write backend: the UP server cannot be compared with an unknown leader', async () => {
    const ev = await evaluate(
      haproxyWriteBackendRule,
      {},
      { ...noDcs(), haproxy: haproxyStats(lab('haproxy-stats-steady.csv')) },
    );
    assert.deepEqual(problems(ev), []);
    assert.deepEqual(unknownLabels(ev), [{ backend: 'pg_primary', problem: 'wrong_primary' }]);
  });

  test('write backend with the Patroni poll failing outright: wrong_primary unknown, 0 or 2 UP still reported', async () => {
    const ev = await evaluate(
      haproxyWriteBackendRule,
      {},
      { patroni: pollFailed('patroni'), haproxy: haproxyStats(lab('haproxy-stats-failover.csv')) },
    );
    assert.deepEqual(problems(ev), [{ backend: 'pg_primary', problem: 'no_primary' }]);
    assert.deepEqual(unknownLabels(ev), [{ backend: 'pg_primary', problem: 'wrong_primary' }]);
  });

  test('no leader (a known fact) keeps lag alerts as they are instead of resolving them', async () => {
    const ev = await evaluate(
      patroniLagRule,
      {},
      { patroni: patroniState(lab('patroni-cluster-failover-no-leader.json'), { ...STEADY, pg1: 'down' }) },
    );
    assert.deepEqual(unknownLabels(ev), [{}]);
  });
});

describe('Patroni: a malformed /patroni body from the leader', () => {
  const malformed = { ok: false as const, error: { kind: 'malformed' as const, message: 'not JSON: <html>' } };
  const obs = () => ({ patroni: patroniState(lab('patroni-cluster-steady.json'), { ...STEADY, pg1: malformed }) });

  test('is not "primary down": patroni_leader fails (unknown) instead of paging', async () => {
    const ev = await evaluate(patroniLeaderRule, {}, obs());
    assert.equal(ev.ok, false);
    assert.match(!ev.ok ? ev.error : '', /leader pg1 answered \/patroni unreadably \(malformed: not JSON/);
  });

  test('is not "REST API unreachable" for the member: its checks are unknown', async () => {
    const ev = await evaluate(patroniMemberRule, { checks: ['down', 'timeline_behind', 'pending_restart'] }, obs());
    assert.deepEqual(problems(ev), []);
    assert.deepEqual(unknownLabels(ev), [{ member: 'pg1' }]);
  });

  test('a refused /patroni is still "down" (known)', async () => {
    const ev = await evaluate(
      patroniLeaderRule,
      {},
      { patroni: patroniState(lab('patroni-cluster-steady.json'), { ...STEADY, pg1: 'down' }) },
    );
    assert.deepEqual(problems(ev), [{ member: 'pg1', event: 'primary_down' }]);
  });
});

describe('PostgreSQL: a query failing after the connection succeeded', () => {
  const primaryReplicationTimedOut = (): PostgresState => ({
    at: 0,
    nodes: [
      pgPrimary('pg1', [], { unknown: { replication: timedOut }, error: timedOut }),
      pgReplica('pg2'),
      pgReplica('pg3'),
    ],
  });

  test('a timeout on the primary does not make every replica "not streaming": it is unknown for each', async () => {
    const ev = await evaluate(postgresReplicationRule, {}, { postgres: primaryReplicationTimedOut() });
    assert.deepEqual(problems(ev), []);
    // lag is still known: the primary's LSN minus each replica's replay position
    assert.deepEqual(unknownLabels(ev), [
      { node: 'pg2', problem: 'not_streaming' },
      { node: 'pg3', problem: 'not_streaming' },
    ]);
  });

  test('byte lag with no single reachable primary is unknown, not zero', () => {
    const r = replicaLags({ at: 0, nodes: [{ ...pgPrimary('pg1'), reachable: false, unknown: {} }, pgReplica('pg2')] });
    assert.equal(r.replicas[0]!.unknown.lag, 'no single reachable primary to measure lag against');
    assert.deepEqual(
      r.unknownNodes.map((u) => u.node),
      ['pg1'],
    );
  });

  test('replica facts unknown on the replica itself (its replica query failed): that node is unknown', async () => {
    const ev = await evaluate(
      postgresReplicationRule,
      {},
      {
        postgres: {
          at: 0,
          nodes: [
            pgPrimary('pg1', [replicationRow({ application_name: 'pg2' })]),
            {
              ...pgReplica('pg2'),
              replica: undefined,
              unknown: { replica: timedOut, wal_receiver: timedOut },
            } as never,
          ],
        },
      },
    );
    assert.deepEqual(problems(ev), []);
    assert.deepEqual(unknownLabels(ev), [{ node: 'pg2' }]);
  });

  test('postgres_health: only the checks whose query failed are unknown on that node', async () => {
    const ev = await evaluate(
      postgresHealthRule,
      { checks: ['inactive_slots', 'connections', 'idle_in_transaction'] },
      { postgres: { at: 0, nodes: [pgPrimary('pg1', [], { unknown: { slots: timedOut } }), pgReplica('pg2')] } },
    );
    assert.deepEqual(problems(ev), []);
    assert.deepEqual(unknownLabels(ev), [{ node: 'pg1', problem: 'inactive_slots' }]);
  });

  test('split_brain: a node whose role is unknown may be a second primary — unknown, not clear', async () => {
    const nodes = [
      pgPrimary('pg1'),
      pgReplica('pg2'),
      { ...pgReplica('pg3'), inRecovery: undefined, replica: undefined, unknown: { common: timedOut } } as never,
    ];
    const ev = await evaluate(splitBrainRule, {}, { patroni: steadyPatroni(), postgres: { at: 0, nodes } });
    assert.deepEqual(problems(ev), []);
    assert.deepEqual(unknownLabels(ev), [
      { problem: 'multiple_primaries' },
      { node: 'pg3', problem: 'replica_not_in_recovery' },
    ]);
    const noPatroni = await evaluate(
      splitBrainRule,
      {},
      { patroni: pollFailed('patroni'), postgres: { at: 0, nodes: [pgPrimary('pg1'), pgReplica('pg2')] } },
    );
    assert.deepEqual(unknownLabels(noPatroni), [{ problem: 'replica_not_in_recovery' }]);
  });
});

describe('etcd and HAProxy answers that parse but lack what the rule needs', () => {
  test('etcd /health without "health" is unknown, not unhealthy', async () => {
    assert.deepEqual(parseHealth('{"status":"ok"}'), {
      healthy: false,
      unknown: 'no "health" in /health body: {"status":"ok"}',
    });
    const eps = [
      etcdEndpoint(1, true),
      etcdEndpoint(2, false, { healthUnknown: 'no "health" in /health body: {}' }),
      etcdEndpoint(3, true),
    ];
    const ev = await evaluate(etcdHealthRule, { checks: ['quorum', 'unhealthy_member'] }, { etcd: etcdState(eps) });
    assert.deepEqual(problems(ev), []);
    assert.deepEqual(unknownLabels(ev), [{ host: '127.0.0.1:2372', problem: 'unhealthy_member' }]);
  });

  test('etcd without maintenance status (no leader ids): healthy members still prove quorum', async () => {
    const eps = [1, 2, 3].map((n) =>
      etcdEndpoint(n, true, { leaderId: undefined as never, memberId: undefined as never }),
    );
    for (const e of eps) {
      delete e.leaderId;
      delete e.memberId;
    }
    assert.deepEqual(problems(await evaluate(etcdHealthRule, {}, { etcd: etcdState(eps) })), []);
  });

  test('etcd quorum with every /health unreadable is unknown; member count without a member list is unknown', async () => {
    const eps = [1, 2, 3].map((n) => etcdEndpoint(n, false, { healthUnknown: 'HTTP 404' }));
    const ev = await evaluate(etcdHealthRule, { checks: ['quorum', 'member_count'] }, { etcd: etcdState(eps, null) });
    assert.deepEqual(problems(ev), []);
    assert.deepEqual(unknownLabels(ev), [{ problem: 'quorum' }, { problem: 'member_count' }]);
  });

  test('HAProxy stats without a readable server status: the write backend is unknown, not "no primary"', async () => {
    const csv = lab('haproxy-stats-steady.csv').replace(
      /^# pxname,svname,(.*?),status,/m,
      '# pxname,svname,$1,status_x,',
    );
    const wb = await evaluate(haproxyWriteBackendRule, {}, { patroni: steadyPatroni(), haproxy: haproxyStats(csv) });
    assert.deepEqual(problems(wb), []);
    assert.deepEqual(unknownLabels(wb), [{ backend: 'pg_primary' }]);
    const be = await evaluate(
      haproxyBackendRule,
      { backends: ['odoo_workers'], checks: ['no_server_up', 'server_down'] },
      { haproxy: haproxyStats(csv) },
    );
    assert.deepEqual(problems(be), []);
    assert.deepEqual(
      unknownLabels(be).map((l) => l['server'] ?? l['problem']),
      ['odoo1', 'odoo2', 'no_server_up'],
    );
  });
});

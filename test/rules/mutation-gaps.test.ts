// Rule types no other unit test evaluated (etcd_health, http, split_brain, postgres_*), found by
// mutation testing (npm run mutation -- rules): a wrong threshold or check went unnoticed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { silentLogger } from '../../src/log.js';
import type { Evaluation, Finding, Rule, RuleType } from '../../src/rules/rule-type.js';
import { secondsText } from '../../src/rules/types/cluster-util.js';
import { etcdHealthRule } from '../../src/rules/types/etcd.js';
import { httpRule } from '../../src/rules/types/http.js';
import { postgresHealthRule, postgresReplicationRule, replicaLags } from '../../src/rules/types/postgres.js';
import { splitBrainRule } from '../../src/rules/types/split-brain.js';
import type { EtcdMemberState, EtcdState } from '../../src/sources/etcd/client.js';
import type { HttpProbeResult } from '../../src/sources/http-probe.js';
import { failed, observed } from '../../src/sources/observation.js';
import type { PatroniClusterState } from '../../src/sources/patroni/merge.js';
import type { PgNodeState, PostgresState } from '../../src/sources/postgres/client.js';
import type { Sources } from '../../src/sources/sources.js';
import { truncate } from '../../src/util/text.js';
import { makeRule } from '../support/builders.js';

const down = { kind: 'unreachable' as const, message: 'connection refused' };

async function evaluate<S extends z.ZodRawShape>(
  type: RuleType<S>,
  spec: Record<string, unknown>,
  sources: Partial<Sources>,
  over: Partial<Rule> = {},
): Promise<Evaluation> {
  const rule = makeRule({ type: type.type, spec: z.object(type.shape).parse(spec), ...over }) as Rule<
    z.infer<z.ZodObject<S>>
  >;
  const all: Sources = { http: { probe: async () => ({ url: '', durationMs: 0 }) }, async close() {}, ...sources };
  return type.evaluate(rule, {
    now: new Date(0),
    signal: new AbortController().signal,
    sources: all,
    logger: silentLogger,
  });
}

function findings(e: Evaluation): Finding[] {
  assert.ok(e.ok, `evaluation failed: ${JSON.stringify(e)}`);
  return e.findings;
}
const keys = (e: Evaluation) => findings(e).map((f) => Object.values(f.labels).join('/'));

// ---- etcd_health ----

const member = (n: number, over: Partial<EtcdMemberState> = {}): EtcdMemberState => ({
  endpoint: `http://10.0.0.${n}:2379/v3`,
  reachable: true,
  healthy: true,
  memberId: `${n}`,
  leaderId: '1',
  ...over,
});
function etcd(endpoints: EtcdMemberState[], over: Partial<EtcdState> = {}): Pick<Sources, 'etcd'> {
  const healthyCount = endpoints.filter((e) => e.healthy).length;
  const memberCount = over.memberCount ?? endpoints.length;
  const state: EtcdState = {
    at: 0,
    endpoints,
    memberCount,
    membersKnown: true,
    memberNames: [],
    healthyCount,
    quorum: Math.floor(memberCount / 2) + 1,
    hasQuorum: healthyCount > 0,
    leaders: healthyCount > 0 ? ['1'] : [],
    ...over,
  };
  return { etcd: { poll: async () => observed('etcd', state) } };
}

describe('etcd_health', () => {
  test('not configured is a failed evaluation, not a finding', async () => {
    assert.deepEqual(await evaluate(etcdHealthRule, {}, {}), {
      ok: false,
      source: 'etcd',
      error: 'sources.etcd is not configured',
    });
  });

  test('no endpoint answers: unknown from here (the watcher may be the one cut off), a failed evaluation, never a page', async () => {
    const src = { etcd: { poll: async () => failed<EtcdState>('etcd', down) } };
    assert.deepEqual(await evaluate(etcdHealthRule, {}, src), {
      ok: false,
      source: 'etcd',
      error: 'unreachable: connection refused',
    });
  });

  test('three healthy members with a leader: nothing to report', async () => {
    assert.deepEqual(
      findings(
        await evaluate(
          etcdHealthRule,
          { checks: ['quorum', 'unhealthy_member', 'member_count'] },
          etcd([member(1), member(2), member(3)]),
        ),
      ),
      [],
    );
  });

  test('one of three healthy, no leader: quorum lost, and each bad member by host', async () => {
    const src = etcd(
      [
        member(1),
        member(2, { healthy: false, healthReason: 'no leader' }),
        member(3, { reachable: false, healthy: false }),
      ],
      { hasQuorum: false, leaders: [] },
    );
    const e = await evaluate(etcdHealthRule, {}, src);
    assert.deepEqual(keys(e), ['quorum', '10.0.0.2:2379/unhealthy_member', '10.0.0.3:2379/unhealthy_member']);
    const [q, m2, m3] = findings(e);
    assert.equal(
      q?.values['detail'],
      'etcd has no quorum: 1 of 3 member(s) healthy, 2 needed, no leader. Patroni cannot elect or keep a leader',
    );
    assert.deepEqual(
      [q?.values['members'], q?.values['healthy'], q?.values['quorum'], q?.values['host']],
      [3, 1, 2, ''],
    );
    assert.equal(m2?.values['detail'], 'etcd member 10.0.0.2:2379 is unhealthy: no leader (1/3 healthy, quorum 2)');
    assert.equal(m3?.values['detail'], 'etcd member 10.0.0.3:2379 is unreachable (1/3 healthy, quorum 2)');
    assert.equal(m3?.values['host'], '10.0.0.3:2379');
  });

  test('a leader is known but fewer healthy than quorum: quorum lost only when every member is watched', async () => {
    const two = [member(1), member(2, { healthy: false }), member(3, { healthy: false })];
    const [q] = findings(await evaluate(etcdHealthRule, { checks: ['quorum'] }, etcd(two, { hasQuorum: true })));
    assert.equal(
      q?.values['detail'],
      'etcd has no quorum: 1 of 3 member(s) healthy, 2 needed. Patroni cannot elect or keep a leader',
    );
    // One endpoint configured out of three members: a partial view cannot tell quorum is lost.
    assert.deepEqual(
      findings(
        await evaluate(
          etcdHealthRule,
          { checks: ['quorum'] },
          etcd([member(1, { healthy: false }), member(2)], { memberCount: 3, hasQuorum: true }),
        ),
      ),
      [],
    );
    // All healthy (quorum met exactly): no finding.
    assert.deepEqual(
      findings(
        await evaluate(
          etcdHealthRule,
          { checks: ['quorum'] },
          etcd([member(1), member(2), member(3, { healthy: false })], { hasQuorum: true }),
        ),
      ),
      [],
    );
  });

  test('member_count: even or fewer than min_members is reported, 3 and 5 are not', async () => {
    const count = async (n: number, min = 3) =>
      findings(
        await evaluate(
          etcdHealthRule,
          { checks: ['member_count'], min_members: min },
          etcd(Array.from({ length: n }, (_, i) => member(i + 1))),
        ),
      );
    const [four] = await count(4);
    assert.deepEqual(four?.labels, { problem: 'member_count' });
    assert.equal(
      four?.values['detail'],
      'etcd has 4 member(s) (even: one more member adds no fault tolerance); run 3 or 5 (tolerates 1 or 2 failures)',
    );
    const [one] = await count(1);
    assert.equal(one?.values['detail'], 'etcd has 1 member(s); run 3 or 5 (tolerates 1 or 2 failures)');
    assert.deepEqual(await count(3), []);
    assert.deepEqual(await count(5), []);
    assert.equal((await count(3, 5)).length, 1);
    assert.deepEqual(await count(5, 5), []);
  });

  test('defaults check quorum and unhealthy members, not the member count', async () => {
    assert.deepEqual(
      keys(await evaluate(etcdHealthRule, {}, etcd([member(1), member(2), member(3, { healthy: false }), member(4)]))),
      ['10.0.0.3:2379/unhealthy_member'],
    );
  });
});

// ---- http ----

function probe(results: Record<string, Omit<HttpProbeResult, 'url'>>, seen: unknown[] = []): Pick<Sources, 'http'> {
  return {
    http: {
      probe: async (url, opts) => {
        seen.push({ url, method: opts.method, timeoutMs: opts.timeoutMs });
        return { url, ...results[url]! };
      },
    },
  };
}

describe('http', () => {
  const targets = [{ name: 'odoo1', url: 'http://odoo1:8069/web/health' }];
  test('the expected status passes; another status is a finding naming what was expected', async () => {
    const seen: unknown[] = [];
    assert.deepEqual(
      findings(
        await evaluate(httpRule, { targets }, probe({ [targets[0]!.url]: { status: 200, durationMs: 3 } }, seen), {
          timeout: 1234,
        }),
      ),
      [],
    );
    assert.deepEqual(seen, [{ url: targets[0]!.url, method: 'GET', timeoutMs: 1234 }]);
    const [f] = findings(
      await evaluate(
        httpRule,
        { targets, expect_status: [200, 204], method: 'HEAD' },
        probe({ [targets[0]!.url]: { status: 503, durationMs: 12.6, body: 'x'.repeat(400) } }, seen),
      ),
    );
    assert.deepEqual(f?.labels, { target: 'odoo1' });
    assert.deepEqual(f?.values, {
      target: 'odoo1',
      url: targets[0]!.url,
      status: 503,
      error: 'HTTP 503 (expected 200 or 204)',
      duration_ms: 13,
    });
    assert.deepEqual(f?.samples, [truncate('x'.repeat(400), 300)]);
    assert.equal((seen[1] as { method: string }).method, 'HEAD');
    assert.deepEqual(
      findings(
        await evaluate(
          httpRule,
          { targets, expect_status: [200, 204] },
          probe({ [targets[0]!.url]: { status: 204, durationMs: 1 } }),
        ),
      ),
      [],
    );
  });

  test('no response: the probe error, status "none", no samples', async () => {
    const [f] = findings(
      await evaluate(
        httpRule,
        { targets },
        probe({ [targets[0]!.url]: { error: 'connect ECONNREFUSED', durationMs: 0 } }),
      ),
    );
    assert.deepEqual(f?.values, {
      target: 'odoo1',
      url: targets[0]!.url,
      status: 'none',
      error: 'connect ECONNREFUSED',
      duration_ms: 0,
    });
    assert.equal(f?.samples, undefined);
  });

  test('body_contains: a 200 without the text is a finding; with it, none', async () => {
    const spec = { targets, body_contains: 'pass' };
    const [f] = findings(
      await evaluate(
        httpRule,
        spec,
        probe({ [targets[0]!.url]: { status: 200, durationMs: 1, body: '{"status":"fail"}' } }),
      ),
    );
    assert.equal(f?.values['error'], 'body does not contain "pass"');
    const [g] = findings(await evaluate(httpRule, spec, probe({ [targets[0]!.url]: { status: 200, durationMs: 1 } })));
    assert.equal(g?.values['error'], 'body does not contain "pass"');
    assert.deepEqual(
      findings(
        await evaluate(
          httpRule,
          spec,
          probe({ [targets[0]!.url]: { status: 200, durationMs: 1, body: '{"status":"pass"}' } }),
        ),
      ),
      [],
    );
  });
});

// ---- postgres: split_brain, postgres_replication, postgres_health ----

function pgNode(name: string, over: Partial<PgNodeState> = {}): PgNodeState {
  return {
    name,
    target: `${name}:5432`,
    reachable: true,
    idleInTransaction: [],
    checksumFailures: [],
    unknown: {},
    ...over,
  } as PgNodeState;
}
const pg = (nodes: PgNodeState[]): Pick<Sources, 'postgres'> => ({
  postgres: { poll: async () => observed<PostgresState>('postgres', { at: 0, nodes }) } as NonNullable<
    Sources['postgres']
  >,
});
function patroni(
  leader: string | undefined,
  roles: Record<string, string>,
  polls: unknown[] = [],
): Pick<Sources, 'patroni'> {
  const state = {
    leader,
    views: [{ from: 'pg1', leader: leader ?? null }],
    members: Object.entries(roles).map(([name, role]) => ({ name, role, isLeader: name === leader })),
  } as unknown as PatroniClusterState;
  return {
    patroni: {
      members: [],
      poll: async () => {
        polls.push(1);
        return observed('patroni', state);
      },
    },
  };
}

describe('split_brain', () => {
  const primary = (name: string) => pgNode(name, { inRecovery: false });
  const replica = (name: string) => pgNode(name, { inRecovery: true });

  test('postgres not configured or unreachable: a failed evaluation', async () => {
    assert.deepEqual(await evaluate(splitBrainRule, {}, {}), {
      ok: false,
      source: 'postgres',
      error: 'sources.postgres is not configured',
    });
    const e = await evaluate(
      splitBrainRule,
      {},
      { postgres: { poll: async () => failed<PostgresState>('postgres', down) } as NonNullable<Sources['postgres']> },
    );
    assert.deepEqual(e, { ok: false, source: 'postgres', error: 'unreachable: connection refused' });
  });

  test('one primary agreeing with Patroni: nothing', async () => {
    assert.deepEqual(
      findings(
        await evaluate(
          splitBrainRule,
          {},
          {
            ...pg([primary('pg1'), replica('pg2'), pgNode('pg3', { reachable: false, inRecovery: false })]),
            ...patroni('pg1', { pg1: 'leader', pg2: 'replica', pg3: 'replica' }),
          },
        ),
      ),
      [],
    );
  });

  test('two nodes accept writes: multiple_primaries, and the one Patroni calls replica', async () => {
    const e = await evaluate(
      splitBrainRule,
      {},
      {
        ...pg([primary('pg1'), primary('pg2'), replica('pg3')]),
        ...patroni('pg1', { pg1: 'leader', pg2: 'replica', pg3: 'replica' }),
      },
    );
    assert.deepEqual(keys(e), ['cluster/multiple_primaries', 'pg2/replica_not_in_recovery']);
    const [m, r] = findings(e);
    assert.equal(m?.values['detail'], 'SPLIT-BRAIN: 2 nodes accept writes (pg1, pg2); Patroni leader is pg1');
    assert.equal(m?.values['primaries'], 'pg1, pg2');
    assert.equal(
      r?.values['detail'],
      'pg2 is not in recovery (accepts writes) but Patroni lists it as replica; leader is pg1',
    );
  });

  test('a lone primary Patroni calls replica is reported; leader, standby_leader and unknown roles are not', async () => {
    const one = async (role: string, leader?: string) =>
      keys(await evaluate(splitBrainRule, {}, { ...pg([primary('pg2')]), ...patroni(leader, { pg2: role }) }));
    assert.deepEqual(await one('replica', 'pg1'), ['pg2/replica_not_in_recovery']);
    assert.deepEqual(await one('leader'), []);
    assert.deepEqual(await one('standby_leader'), []);
    assert.deepEqual(await one('unknown'), []);
    assert.deepEqual(await one('replica', 'pg2'), []);
  });

  test('the leader reads "none" when Patroni has none, "unknown" when Patroni is not asked or fails', async () => {
    const two = pg([primary('pg1'), primary('pg2')]);
    const leaderOf = async (sources: Partial<Sources>, spec = {}) =>
      findings(await evaluate(splitBrainRule, spec, { ...two, ...sources }))[0]?.values['leader'];
    assert.equal(await leaderOf(patroni(undefined, {})), 'none');
    const polls: unknown[] = [];
    assert.equal(await leaderOf(patroni('pg1', {}, polls), { use_patroni: false }), 'unknown');
    assert.equal(polls.length, 0);
    assert.equal(
      await leaderOf({ patroni: { members: [], poll: async () => failed<PatroniClusterState>('patroni', down) } }),
      'unknown',
    );
    assert.equal(await leaderOf({}), 'unknown');
  });
});

const replicaOf = (over: Partial<NonNullable<PgNodeState['replica']>> = {}): NonNullable<PgNodeState['replica']> => ({
  receiveLsn: null,
  replayLsn: null,
  receivePos: 1000,
  replayPos: 1000,
  applyBacklogBytes: 0,
  replayPaused: false,
  replayDelayS: 0,
  walReceiver: { status: 'streaming', senderHost: 'pg1', senderPort: 5432, slotName: 'pg2', lastMsgAgeS: 0 },
  ...over,
});
const row = (
  applicationName: string,
  over: Partial<NonNullable<PgNodeState['primary']>['replication'][number]> = {},
) => ({
  applicationName,
  clientAddr: null,
  state: 'streaming',
  syncState: 'async',
  sentLagBytes: 0,
  flushLagBytes: 0,
  replayLagBytes: 0,
  replayLagS: 0,
  writeLagS: 0,
  replyAgeS: 0,
  ...over,
});
const primaryOf = (
  replication: ReturnType<typeof row>[],
  over: Partial<NonNullable<PgNodeState['primary']>> = {},
): NonNullable<PgNodeState['primary']> => ({ lsnPos: 5000, lsn: null, replication, slots: [], ...over });

describe('replicaLags and postgres_replication', () => {
  test("lag comes from the primary's row, else from LSN positions; seconds is the largest known delay", () => {
    const r = replicaLags({
      at: 0,
      nodes: [
        pgNode('pg1', {
          inRecovery: false,
          primary: primaryOf([
            row('pg2', { replayLagBytes: 700, replayLagS: 2, replyAgeS: 9 }),
            row('pg3', { replayLagBytes: null, replayLagS: null, replyAgeS: 50 }),
          ]),
        }),
        pgNode('pg2', { inRecovery: true, replica: replicaOf({ replayDelayS: 1 }) }),
        pgNode('pg3', { inRecovery: true, replica: replicaOf({ replayPos: 1000, replayDelayS: null }) }),
        pgNode('pg4', { inRecovery: true, reachable: false, replica: replicaOf() }),
        pgNode('pg5', { inRecovery: true }),
      ],
    });
    assert.equal(r.primary?.name, 'pg1');
    assert.deepEqual(
      r.replicas.map((x) => [x.node, x.bytes, x.seconds, x.streaming]),
      [
        ['pg2', 700, 9, true],
        ['pg3', 4000, 50, true],
      ],
    );
    // Caught up (0 bytes): a stale reply age is not lag.
    const idle = replicaLags({
      at: 0,
      nodes: [
        pgNode('pg1', { inRecovery: false, primary: primaryOf([row('pg2', { replyAgeS: 99, replayLagS: null })]) }),
        pgNode('pg2', { inRecovery: true, replica: replicaOf({ replayDelayS: null }) }),
      ],
    });
    assert.deepEqual(
      idle.replicas.map((x) => [x.bytes, x.seconds]),
      [[0, null]],
    );
  });

  test('why a replica is not streaming', () => {
    const reason = (replica: PgNodeState['replica'], replication = [row('pg2')], primaries = 1) => {
      const nodes = [
        pgNode('pg2', { inRecovery: true, replica }),
        ...Array.from({ length: primaries }, (_, i) =>
          pgNode(`pg${i === 0 ? 1 : 9}`, { inRecovery: false, primary: primaryOf(replication) }),
        ),
      ];
      return replicaLags({ at: 0, nodes }).replicas[0]?.notStreamingReason;
    };
    assert.equal(reason(replicaOf()), undefined);
    assert.match(String(reason(replicaOf({ walReceiver: null }))), /^no WAL receiver/);
    assert.equal(
      reason(
        replicaOf({
          walReceiver: { status: 'stopping', senderHost: null, senderPort: null, slotName: null, lastMsgAgeS: null },
        }),
      ),
      'WAL receiver stopping',
    );
    assert.equal(reason(replicaOf(), []), 'not in pg_stat_replication on pg1');
    assert.equal(reason(replicaOf(), [row('pg2', { state: 'catchup' })]), 'replication state catchup on pg1');
    assert.equal(reason(replicaOf(), [row('pg2', { state: null })]), 'replication state unknown on pg1');
    // Two primaries: no primary to compare with, the replica's own receiver decides.
    assert.equal(reason(replicaOf(), [], 2), undefined);
  });

  test('postgres_replication: thresholds are exclusive, each check only when asked', async () => {
    const state = (bytes: number, seconds: number, extra: Partial<NonNullable<PgNodeState['replica']>> = {}) =>
      pg([
        pgNode('pg1', {
          inRecovery: false,
          primary: primaryOf([row('pg2', { replayLagBytes: bytes, replayLagS: seconds })]),
        }),
        pgNode('pg2', { inRecovery: true, replica: replicaOf({ replayDelayS: 0, ...extra }) }),
      ]);
    const spec = { max_lag_bytes: 1000, max_lag_seconds: 10 };
    assert.deepEqual(findings(await evaluate(postgresReplicationRule, spec, state(1000, 10))), []);
    const [b] = findings(await evaluate(postgresReplicationRule, spec, state(1001, 0)));
    assert.deepEqual(b?.labels, { node: 'pg2', problem: 'lag' });
    assert.equal(
      b?.values['detail'],
      'replica pg2 lags 1001 B / 0 ms behind pg1 (max 1000 B / 10 s): no longer a failover candidate',
    );
    assert.deepEqual([b?.values['lag_bytes'], b?.values['lag_seconds'], b?.values['primary']], [1001, 0, 'pg1']);
    const [s] = findings(await evaluate(postgresReplicationRule, spec, state(0, 10.04)));
    assert.equal(s?.values['detail'], 'replica pg2 lags 0 B / 10 s behind pg1 (max 1000 B / 10 s)');
    assert.equal(s?.values['lag_seconds'], 10);
    const paused = state(0, 0, { replayPaused: true, walReceiver: null });
    assert.deepEqual(keys(await evaluate(postgresReplicationRule, {}, paused)), [
      'pg2/not_streaming',
      'pg2/replay_paused',
    ]);
    assert.deepEqual(keys(await evaluate(postgresReplicationRule, { checks: ['lag'] }, paused)), []);
    assert.deepEqual(keys(await evaluate(postgresReplicationRule, { checks: ['replay_paused'] }, paused)), [
      'pg2/replay_paused',
    ]);
    const unknown = pg([pgNode('pg2', { inRecovery: true, replica: replicaOf({ replayDelayS: null }) })]);
    // No primary to measure against: unknown lag is not a lag finding.
    assert.deepEqual(findings(await evaluate(postgresReplicationRule, { checks: ['lag'] }, unknown)), []);
  });

  test('postgres_replication: the source unreachable is a failed evaluation', async () => {
    const e = await evaluate(
      postgresReplicationRule,
      {},
      { postgres: { poll: async () => failed<PostgresState>('postgres', down) } as NonNullable<Sources['postgres']> },
    );
    assert.deepEqual(e, { ok: false, source: 'postgres', error: 'unreachable: connection refused' });
  });
});

describe('postgres_health', () => {
  const health = (nodes: PgNodeState[], spec: Record<string, unknown> = {}) =>
    evaluate(postgresHealthRule, spec, pg(nodes));

  test('unreachable nodes and failing queries, only when asked', async () => {
    const nodes = [
      pgNode('pg1', { reachable: false, error: down }),
      pgNode('pg2', { reachable: false }),
      pgNode('pg3', { error: { kind: 'query_failed', message: 'permission denied' } }),
    ];
    const e = await health(nodes);
    assert.deepEqual(
      findings(e).map((f) => [f.labels['node'], f.values['detail'], f.values['value']]),
      [
        ['pg1', 'cannot connect to PostgreSQL on pg1 (pg1:5432): connection refused', 'unreachable'],
        ['pg2', 'cannot connect to PostgreSQL on pg2 (pg2:5432): unknown error', 'unreachable'],
        ['pg3', 'queries fail on pg3: permission denied', 'query_failed'],
      ],
    );
    assert.deepEqual(findings(await health(nodes, { checks: ['archiver'] })), []);
  });

  test('inactive slots retaining more than the threshold, or lost; active ones never', async () => {
    const slot = (name: string, active: boolean, retainedBytes: number | null, walStatus?: string) => ({
      name,
      type: 'physical',
      active,
      retainedBytes,
      ...(walStatus ? { walStatus } : {}),
    });
    const n = pgNode('pg1', {
      inRecovery: false,
      primary: primaryOf([], {
        slots: [
          slot('a', true, 5000),
          slot('b', false, 1000),
          slot('c', false, 1001),
          slot('d', false, null, 'lost'),
          slot('e', false, 10, 'unreserved'),
          slot('f', false, null),
        ],
      }),
    });
    const e = await health([n], { checks: ['inactive_slots'], slot_retained_bytes: 1000 });
    assert.deepEqual(
      findings(e).map((f) => f.labels['slot']),
      ['c', 'd', 'e'],
    );
    const [c, d] = findings(e);
    assert.equal(
      c?.values['detail'],
      'inactive slot c on pg1 retains 1001 B of WAL: pg_wal grows until the disk fills',
    );
    assert.deepEqual([c?.values['value'], c?.values['threshold']], [1001, 1000]);
    assert.equal(
      d?.values['detail'],
      'inactive slot d on pg1 retains unknown of WAL (wal_status lost): pg_wal grows until the disk fills',
    );
    assert.equal(d?.values['value'], 0);
  });

  test('archiver failing (unless archive_mode is off) and checksum failures', async () => {
    const archiver = {
      archivedCount: 5,
      failedCount: 3,
      lastFailedWal: '0001',
      lastFailedTime: 't1',
      lastArchivedTime: null,
      failing: true,
    };
    const n = pgNode('pg1', {
      inRecovery: false,
      archiveMode: 'on',
      primary: primaryOf([], { archiver }),
      checksumFailures: [{ db: 'odoo', failures: 2, lastFailure: null }],
    });
    const e = await health([n]);
    assert.deepEqual(
      findings(e).map((f) => [f.labels['problem'], f.values['detail']]),
      [
        ['archiver', 'WAL archiving fails on pg1: last failed 0001 at t1 (3 failures; last success never)'],
        ['checksums', '2 data checksum failure(s) in database odoo on pg1 (last ?): data corruption'],
      ],
    );
    assert.deepEqual(findings(e)[1]?.labels, { node: 'pg1', problem: 'checksums', db: 'odoo' });
    assert.deepEqual(findings(await health([{ ...n, archiveMode: 'off', checksumFailures: [] }])), []);
    assert.deepEqual(
      findings(
        await health([
          { ...n, primary: primaryOf([], { archiver: { ...archiver, failing: false } }), checksumFailures: [] },
        ]),
      ),
      [],
    );
  });

  test('connections at the ratio of usable connections', async () => {
    const conns = async (connections: number, reservedConnections?: number) =>
      findings(
        await health(
          [
            pgNode('pg1', {
              maxConnections: 103,
              connections,
              ...(reservedConnections !== undefined ? { reservedConnections } : {}),
            }),
          ],
          { checks: ['connections'], connections_ratio: 0.5 },
        ),
      );
    assert.deepEqual(await conns(49, 3), []);
    const [f] = await conns(50, 3);
    assert.equal(f?.values['detail'], '50 client connections on pg1 of 100 available (max_connections 103)');
    assert.deepEqual([f?.values['value'], f?.values['threshold']], [50, 50]);
    assert.equal((await conns(51)).length, 0);
    assert.equal((await conns(52)).length, 1);
  });

  test('sessions idle in transaction at least the threshold, with the longest and samples', async () => {
    const s = (pid: number, idleS: number) => ({ pid, user: 'odoo', db: 'prod', application: '', client: null, idleS });
    const e = await health([pgNode('pg1', { idleInTransaction: [s(1, 299.9), s(2, 300), s(3, 420.4)] })], {
      checks: ['idle_in_transaction'],
      idle_in_transaction: 300,
    });
    const [f] = findings(e);
    assert.equal(
      f?.values['detail'],
      `2 session(s) idle in transaction on pg1 for up to ${secondsText(420.4)} (they hold locks and block vacuum)`,
    );
    assert.deepEqual([f?.values['value'], f?.values['threshold']], [420, 300]);
    assert.deepEqual(f?.samples, [
      'pid 2 odoo@prod from local (-) idle 300 s',
      'pid 3 odoo@prod from local (-) idle 420 s',
    ]);
    assert.deepEqual(
      findings(
        await health([pgNode('pg1', { idleInTransaction: [s(1, 299)] })], {
          checks: ['idle_in_transaction'],
          idle_in_transaction: 300,
        }),
      ),
      [],
    );
  });
});

describe('secondsText', () => {
  test('units at their boundaries', () => {
    assert.deepEqual(
      [null, undefined, 0.5, 0.9999, 1, 9.95, 10, 119, 120, 150].map((s) => secondsText(s)),
      ['unknown', 'unknown', '500 ms', '1000 ms', '1.0 s', '9.9 s', '10 s', '119 s', '2 min', '3 min'],
    );
  });
});

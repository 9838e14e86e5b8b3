/**
 * Rules joining HAProxy servers / PostgreSQL nodes with Patroni members on the seed's topology:
 * Patroni `name: pg-node-N` (patroni.yml), HAProxy `server pgN 10.0.1.1N:5432 check port 8008`
 * (haproxy.cfg). Names differ; addresses agree.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger } from '../../src/log.js';
import type { EvalContext, Evaluation } from '../../src/rules/rule-type.js';
import { haproxyWriteBackendRule } from '../../src/rules/types/haproxy.js';
import { postgresReplicationRule } from '../../src/rules/types/postgres.js';
import { splitBrainRule } from '../../src/rules/types/split-brain.js';
import type { HaproxyStats } from '../../src/sources/haproxy/status.js';
import { observed, type Observation } from '../../src/sources/observation.js';
import type { PatroniClusterState } from '../../src/sources/patroni/merge.js';
import type { PgNodeState, PostgresState } from '../../src/sources/postgres/client.js';
import type { Sources } from '../../src/sources/sources.js';
import { makeRule } from '../support/builders.js';
import { seedCluster, seedHost, seedServers, seedStats, type N } from '../support/seed-topology.js';

function sources(p: { patroni?: PatroniClusterState; haproxy?: HaproxyStats; postgres?: PostgresState }): Sources {
  return {
    http: { probe: async () => ({ url: '', durationMs: 0 }) },
    ...(p.patroni
      ? {
          patroni: {
            members: [],
            poll: async () => observed('patroni', p.patroni!) as Observation<PatroniClusterState>,
          },
        }
      : {}),
    ...(p.haproxy
      ? {
          haproxy: {
            writeBackend: 'pg_primary',
            poll: async () => observed('haproxy', p.haproxy!) as Observation<HaproxyStats>,
          },
        }
      : {}),
    ...(p.postgres
      ? {
          postgres: {
            nodes: p.postgres.nodes,
            poll: async () => observed('postgres', p.postgres!) as Observation<PostgresState>,
          },
        }
      : {}),
    async close() {},
  };
}
const ctx = (src: Sources): EvalContext => ({
  now: new Date(0),
  signal: new AbortController().signal,
  sources: src,
  logger: silentLogger,
});

async function writeBackend(
  patroni: PatroniClusterState,
  haproxy: HaproxyStats,
  spec: Record<string, unknown> = {},
): Promise<Evaluation> {
  const rule = makeRule({
    id: 'haproxy-write-backend',
    type: 'haproxy_write_backend',
    message: '{{detail}}',
    spec: { check_leader: true, ...spec },
  });
  return haproxyWriteBackendRule.evaluate(rule as never, ctx(sources({ patroni, haproxy })));
}
const problems = (ev: Evaluation) =>
  ev.ok ? ev.findings.map((f) => `${f.labels['problem']}: ${f.values['detail']}`) : [`unknown: ${ev.error}`];

describe('haproxy_write_backend on the seed topology (servers pgN, members pg-node-N)', () => {
  test('healthy cluster: pg1 UP and leader pg-node-1 is no page (was "sends writes to pg1 but the Patroni leader is pg-node-1")', async () => {
    const ev = await writeBackend(seedCluster(1), seedStats(1, seedServers));
    assert.deepEqual(problems(ev), []);
  });

  test('after a switchover to pg-node-3, pg3 UP is fine and pg1 UP is the wrong primary, named both ways', async () => {
    assert.deepEqual(problems(await writeBackend(seedCluster(3), seedStats(3, seedServers))), []);
    assert.deepEqual(problems(await writeBackend(seedCluster(3), seedStats(1, seedServers))), [
      'wrong_primary: pg_primary sends writes to pg1 (pg-node-1) but the Patroni leader is pg-node-3',
    ]);
  });

  test('server names unrelated to member names (IP addresses) match by address', async () => {
    const byIp = (n: N) => ({ name: seedHost(n), addr: `${seedHost(n)}:5432` });
    assert.deepEqual(problems(await writeBackend(seedCluster(2), seedStats(2, byIp))), []);
    assert.deepEqual(problems(await writeBackend(seedCluster(2), seedStats(3, byIp))), [
      'wrong_primary: pg_primary sends writes to 10.0.1.13 (pg-node-3) but the Patroni leader is pg-node-2',
    ]);
  });

  test('the lab: every node on 127.0.0.1, told apart by port', async () => {
    const port = (n: N) => 15431 + n;
    const patroni = seedCluster(2, { host: () => '127.0.0.1', port });
    assert.deepEqual(
      problems(
        await writeBackend(
          patroni,
          seedStats(2, (n) => ({ name: `pg${n}`, addr: `127.0.0.1:${port(n)}` })),
        ),
      ),
      [],
    );
    assert.deepEqual(
      problems(
        await writeBackend(
          patroni,
          seedStats(1, (n) => ({ name: `pg${n}`, addr: `127.0.0.1:${port(n)}` })),
        ),
      )[0],
      'wrong_primary: pg_primary sends writes to pg1 (pg-node-1) but the Patroni leader is pg-node-2',
    );
  });

  test('HAProxy routes to another port (a pooler) on the member host: matched by host alone', async () => {
    assert.deepEqual(
      problems(
        await writeBackend(
          seedCluster(1),
          seedStats(1, (n) => ({ name: `pg${n}`, addr: `${seedHost(n)}:6432` })),
        ),
      ),
      [],
    );
  });

  test('no address in the stats (HTTP stats page without show-legends) and no common name: unknown with the fix, not a page', async () => {
    const ev = await writeBackend(
      seedCluster(1),
      seedStats(1, (n) => ({ name: `pg${n}`, addr: '' })),
    );
    // The other checks (no_primary, multiple_primaries) still apply: only wrong_primary is unknown.
    assert.ok(ev.ok);
    assert.deepEqual(ev.findings, []);
    assert.deepEqual(
      ev.unknown?.map((u) => u.labels),
      [{ backend: 'pg_primary', problem: 'wrong_primary' }],
    );
    assert.match(
      ev.unknown![0]!.reason,
      /HAProxy server pg1 \(no address\) matches no Patroni member .*stats show-legends.*server_members/,
    );
  });

  test('an explicit server_members map still works without addresses', async () => {
    const map = { pg1: 'pg-node-1', pg2: 'pg-node-2', pg3: 'pg-node-3' };
    const noAddr = (n: N) => ({ name: `pg${n}`, addr: '' });
    assert.deepEqual(problems(await writeBackend(seedCluster(1), seedStats(1, noAddr), { server_members: map })), []);
    assert.deepEqual(problems(await writeBackend(seedCluster(2), seedStats(1, noAddr), { server_members: map })), [
      'wrong_primary: pg_primary sends writes to pg1 (pg-node-1) but the Patroni leader is pg-node-2',
    ]);
  });

  test('two servers on one member address: which one is it is unknown, never a page', async () => {
    const dup = (n: N) => ({ name: `pg${n}`, addr: `${seedHost(n === 2 ? 1 : n)}:5432` });
    const ev = await writeBackend(seedCluster(2), seedStats(1, dup));
    assert.ok(ev.ok);
    assert.deepEqual(ev.findings, []);
    assert.match(ev.unknown?.[0]?.reason ?? '', /HAProxy servers pg1, pg2 all match Patroni member pg-node-1/);
  });

  test('0 UP and 2 UP are still reported whatever the names', async () => {
    const none = seedStats(1, seedServers);
    none.backends
      .find((b) => b.name === 'pg_primary')!
      .servers.forEach((s) => (s.status = { state: 'DOWN', routed: false, raw: 'DOWN' }));
    assert.deepEqual(
      problems(await writeBackend(seedCluster(1), none)).map((p) => p.split(':')[0]),
      ['no_primary'],
    );
  });
});

function pgNode(name: string, target: string, inRecovery: boolean): PgNodeState {
  return { name, target, reachable: true, inRecovery, idleInTransaction: [], checksumFailures: [], unknown: {} };
}

describe('split_brain joins PostgreSQL nodes (config names) to Patroni members by DSN host:port', () => {
  const rule = makeRule({ id: 'split-brain', type: 'split_brain', message: '{{detail}}', spec: { use_patroni: true } });
  const run = (patroni: PatroniClusterState, nodes: PgNodeState[]) =>
    splitBrainRule.evaluate(rule as never, ctx(sources({ patroni, postgres: { at: 0, nodes } })));

  test('node names unlike member names: the leader running as primary is not "a replica not in recovery"', async () => {
    const nodes = [
      pgNode('db-a', '10.0.1.11:5432', false),
      pgNode('db-b', '10.0.1.12:5432', true),
      pgNode('db-c', '10.0.1.13:5432', true),
    ];
    assert.deepEqual(problems(await run(seedCluster(1), nodes)), []);
  });

  test('a node Patroni calls replica that accepts writes is reported, named by its config name and member', async () => {
    const nodes = [
      pgNode('db-a', '10.0.1.11:5432', true),
      pgNode('db-b', '10.0.1.12:5432', false),
      pgNode('db-c', '10.0.1.13:5432', true),
    ];
    const ev = await run(seedCluster(1), nodes);
    assert.deepEqual(problems(ev), [
      'replica_not_in_recovery: db-b (pg-node-2) is not in recovery (accepts writes) but Patroni lists it as replica; leader is pg-node-1',
    ]);
  });

  test('a primary node that matches no member: unknown, not OK and not a page', async () => {
    const nodes = [pgNode('db-a', '10.9.9.9:5432', false), pgNode('db-b', '10.0.1.12:5432', true)];
    const ev = await run(seedCluster(1), nodes);
    assert.ok(!ev.ok);
    assert.match(ev.error, /postgres node db-a \(10\.9\.9\.9:5432\) matches no Patroni member/);
  });
});

describe("postgres_replication finds a replica's pg_stat_replication row by its member name (application_name)", () => {
  const LSN = 50_000_000;
  const primary = (name: string, target: string): PgNodeState => ({
    ...pgNode(name, target, false),
    primary: {
      lsnPos: LSN,
      lsn: '0/2FAF080',
      slots: [],
      replication: ['pg-node-2', 'pg-node-3'].map((a) => ({
        applicationName: a,
        state: 'streaming',
        syncState: 'async',
        replayLagBytes: a === 'pg-node-3' ? 3 * 1048576 : 0,
        replayLagS: 0,
        replyAgeS: 0,
      })) as never,
    },
  });
  const replica = (name: string, target: string): PgNodeState => ({
    ...pgNode(name, target, true),
    replica: { replayPos: LSN, replayDelayS: 0, replayPaused: false, walReceiver: { status: 'streaming' } } as never,
  });
  const nodes = [
    primary('db-a', '10.0.1.11:5432'),
    replica('db-b', '10.0.1.12:5432'),
    replica('db-c', '10.0.1.13:5432'),
  ];
  const rule = makeRule({
    id: 'repl',
    type: 'postgres_replication',
    message: '{{detail}}',
    spec: { checks: ['lag', 'not_streaming', 'replay_paused'], max_lag_bytes: 1048576, max_lag_seconds: 30 },
  });

  test('config names db-a..c, members pg-node-1..3: db-c lags 3 MB, nobody is "not streaming"', async () => {
    const ev = await postgresReplicationRule.evaluate(
      rule as never,
      ctx(sources({ patroni: seedCluster(1), postgres: { at: 0, nodes } })),
    );
    const found = problems(ev);
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(found[0]!, /^lag: replica db-c lags 3(\.0)? MB .* behind db-a/);
  });

  test('Patroni not configured or not answering: rows cannot be identified, so no "not in pg_stat_replication"', async () => {
    const ev = await postgresReplicationRule.evaluate(rule as never, ctx(sources({ postgres: { at: 0, nodes } })));
    assert.deepEqual(
      problems(ev).filter((p) => p.startsWith('not_streaming')),
      [],
    );
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import type { HaproxyStats } from '../../src/sources/haproxy/status.js';
import { observed, type Observation } from '../../src/sources/observation.js';
import type { PatroniClusterState } from '../../src/sources/patroni/merge.js';
import type { PgNodeState, PostgresState } from '../../src/sources/postgres/client.js';
import type { Sources } from '../../src/sources/sources.js';
import { buildStatus, formatStatusText } from '../../src/status/snapshot.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { seedCluster, seedServers, seedStats } from '../support/seed-topology.js';

const LSN = 50_000_000;
function node(name: string, target: string, primary: boolean, appNames: string[] = []): PgNodeState {
  const base = {
    name,
    target,
    reachable: true,
    inRecovery: !primary,
    idleInTransaction: [],
    checksumFailures: [],
    unknown: {},
  };
  if (primary)
    return {
      ...base,
      primary: {
        lsnPos: LSN,
        lsn: '0/2FAF080',
        slots: [],
        replication: appNames.map((a) => ({
          applicationName: a,
          state: 'streaming',
          syncState: 'async',
          replayLagBytes: a === 'pg-node-3' ? 4096 : 0,
          replayLagS: null,
          replyAgeS: 0,
        })) as never,
      },
    };
  return {
    ...base,
    replica: { replayPos: LSN, replayDelayS: 0, replayPaused: false, walReceiver: { status: 'streaming' } } as never,
  };
}

/** /status on the seed's names: HAProxy pg1 = Patroni pg-node-1, config nodes db-a..c = pg-node-1..3. */
test('status joins HAProxy servers and config nodes to Patroni members by address', async () => {
  const patroni = seedCluster(1);
  const haproxy = seedStats(1, seedServers);
  const postgres: PostgresState = {
    at: 0,
    nodes: [
      node('db-a', '10.0.1.11:5432', true, ['pg-node-2', 'pg-node-3']),
      node('db-b', '10.0.1.12:5432', false),
      node('db-c', '10.0.1.13:5432', false),
    ],
  };
  const sources: Sources = {
    http: { probe: async () => ({ url: '', durationMs: 0 }) },
    patroni: { members: [], poll: async () => observed('patroni', patroni) as Observation<PatroniClusterState> },
    haproxy: {
      writeBackend: 'pg_primary',
      poll: async () => observed('haproxy', haproxy) as Observation<HaproxyStats>,
    },
    postgres: { nodes: postgres.nodes, poll: async () => observed('postgres', postgres) as Observation<PostgresState> },
    async close() {},
  };
  const config = configSchema.parse({});
  const store = new SqliteStore(':memory:');
  try {
    const s = await buildStatus(config, sources, store);
    assert.equal(s.haproxy?.write?.upServer, 'pg1');
    assert.equal(s.haproxy?.write?.upMember, 'pg-node-1');
    assert.equal(s.haproxy?.write?.matchesLeader, true);
    const text = formatStatusText(s);
    assert.doesNotMatch(text, /NOT the Patroni leader/);
    assert.match(text, /writes: pg_primary 1\/3 UP .* → pg1 \(pg-node-1\)$/m);
    // pg_stat_replication's application_name is the member name: the lag lands on the right member.
    const m3 = s.patroni!.members.find((m) => m.name === 'pg-node-3')!;
    assert.equal(m3.pgLagBytes, 4096);
    assert.equal(m3.inRecovery, true);
  } finally {
    await store.close();
  }
});

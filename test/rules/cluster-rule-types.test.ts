/**
 * Every cluster rule type, three ways: firing (the values asserted in its rendered message), clear
 * (no findings), and its source poll failing (must be `ok: false`: a rule type that turned
 * "unreachable" into "no findings" would resolve every alert). Observations come from the recorded
 * lab fixtures through the real parsers, or by hand where the lab has no recording.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { RULE_TYPES } from '../../src/rules/registry.js';
import type { Evaluation, RuleType } from '../../src/rules/rule-type.js';
import { renderTemplate } from '../../src/rules/template.js';
import { etcdHealthRule } from '../../src/rules/types/etcd.js';
import { haproxyBackendRule, haproxyWriteBackendRule } from '../../src/rules/types/haproxy.js';
import { httpRule } from '../../src/rules/types/http.js';
import {
  patroniClusterRule,
  patroniLagRule,
  patroniLeaderRule,
  patroniMemberRule,
} from '../../src/rules/types/patroni.js';
import { postgresHealthRule, postgresReplicationRule } from '../../src/rules/types/postgres.js';
import { splitBrainRule } from '../../src/rules/types/split-brain.js';
import { haWatchersRule } from '../../src/rules/types/ha-watchers.js';
import type { LeadershipView } from '../../src/ha/leadership.js';
import { createHttpProbe } from '../../src/sources/http-probe.js';
import { parseNodeStatus } from '../../src/sources/patroni/parse.js';
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
  steadyPostgres,
  type Observed,
} from '../support/cluster-states.js';

let base = '';
const server = createServer((req, res) => {
  res.statusCode = req.url === '/web/health' ? 200 : 503;
  res.end(req.url === '/web/health' ? '{"status": "pass"}' : 'Service Unavailable');
});
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

interface Case {
  type: RuleType;
  spec?: Record<string, unknown>;
  /** Observations whose evaluation fires, and each finding as `labels → rendered message` (regexes on the message). */
  firing: { observed: () => Observed; expect: [Record<string, string>, RegExp][] };
  clear: () => Observed;
  /** When clear needs other settings (http: only healthy targets). */
  clearSpec?: () => Record<string, unknown>;
  /** The rule's source poll failing (or, for http, the probe being cut short by our own deadline). */
  failing: () => Observed;
  failingSignal?: () => AbortSignal;
}

const steadyCsv = lab('haproxy-stats-steady.csv');
const timelineBehind = JSON.stringify({
  members: [
    { name: 'pg1', role: 'leader', state: 'running', timeline: 2 },
    { name: 'pg2', role: 'replica', state: 'running', timeline: 2, lag: 0 },
    { name: 'pg3', role: 'replica', state: 'running', timeline: 1, lag: 0 },
  ],
});

const CASES: Case[] = [
  {
    type: patroniLeaderRule,
    spec: { watch: 'failover' },
    firing: {
      observed: () => ({
        patroni: patroniState(lab('patroni-cluster-failover-stale-leader.json'), { ...STEADY, pg1: 'down' }),
      }),
      expect: [
        [
          { member: 'pg1', event: 'primary_down' },
          /^primary pg1 is down: REST API unreachable: connection refused — writes are impossible; Patroni promotes a replica once the leader key expires \(ttl 30 s, about \d\d:\d\d:\d\d\)$/,
        ],
      ],
    },
    clear: () => ({ patroni: steadyPatroni() }),
    failing: () => ({ patroni: pollFailed('patroni') }),
  },
  {
    type: patroniMemberRule,
    spec: { checks: ['down', 'timeline_behind', 'pending_restart'] },
    firing: {
      observed: () => ({
        patroni: patroniState(
          timelineBehind,
          { pg1: 'master', pg2: 'replica', pg3: parseNodeStatus('{"state":"running","role":"replica","timeline":1}') },
          { timeline: 2 },
        ),
      }),
      expect: [
        [
          { member: 'pg3', problem: 'timeline_behind' },
          /^member pg3: timeline 1 is behind the leader's 2 \(needs pg_rewind or reinit\)$/,
        ],
      ],
    },
    clear: () => ({ patroni: steadyPatroni() }),
    failing: () => ({ patroni: pollFailed('patroni') }),
  },
  {
    type: patroniLagRule,
    firing: {
      observed: () => ({ patroni: patroniState(lab('patroni-cluster-lagging-replica.json'), STEADY) }),
      expect: [
        [
          { member: 'pg2' },
          /^replica pg2 is 4\.6 MB behind pg1 \(max 1\.0 MB\): it is no longer a failover candidate$/,
        ],
      ],
    },
    clear: () => ({ patroni: steadyPatroni() }),
    failing: () => ({ patroni: pollFailed('patroni') }),
  },
  {
    type: patroniClusterRule,
    spec: { checks: ['paused', 'scheduled_switchover', 'views_disagree', 'other_primary'] },
    firing: {
      observed: () => ({
        patroni: patroniState(lab('patroni-cluster-paused.json'), { pg1: 'master', pg2: 'master', pg3: 'replica' }),
      }),
      expect: [
        [{ problem: 'paused' }, /^cluster is paused \(maintenance mode\): Patroni will not fail over automatically$/],
        [{ problem: 'other_primary', member: 'pg2' }, /^pg2 reports itself primary but the DCS leader is pg1$/],
      ],
    },
    clear: () => ({ patroni: steadyPatroni() }),
    failing: () => ({ patroni: pollFailed('patroni') }),
  },
  {
    type: haproxyWriteBackendRule,
    firing: {
      // exactly two UP: "≥ 2" must catch it (a "> 2" would not)
      observed: () => ({
        patroni: steadyPatroni(),
        haproxy: haproxyStats(steadyCsv.replace(/^pg_primary,pg2,(.*?),DOWN,/m, 'pg_primary,pg2,$1,UP,')),
      }),
      expect: [
        [
          { backend: 'pg_primary', problem: 'multiple_primaries' },
          /^2 servers UP in pg_primary \(pg1, pg2\): more than one node claims to be primary$/,
        ],
      ],
    },
    clear: () => ({ patroni: steadyPatroni(), haproxy: haproxyStats(steadyCsv) }),
    failing: () => ({ patroni: steadyPatroni(), haproxy: pollFailed('haproxy') }),
  },
  {
    type: haproxyBackendRule,
    spec: { backends: ['odoo_workers'] },
    firing: {
      observed: () => ({ haproxy: haproxyStats(lab('haproxy-stats-odoo-down.csv')) }),
      expect: [
        [
          { backend: 'odoo_workers', server: 'odoo1', problem: 'server_down' },
          /^odoo_workers\/odoo1 is DOWN \(Layer4 connection problem.*\); 1 of 2 server\(s\) UP$/,
        ],
      ],
    },
    clear: () => ({ haproxy: haproxyStats(steadyCsv) }),
    failing: () => ({ haproxy: pollFailed('haproxy') }),
  },
  {
    type: postgresReplicationRule,
    firing: {
      observed: () => ({
        postgres: {
          at: 0,
          nodes: [
            pgPrimary('pg1', [
              replicationRow({
                application_name: 'pg2',
                replay_lag_bytes: 5_000_000,
                replay_caught_up: false,
                reply_age_s: 42,
              }),
              replicationRow({ application_name: 'pg3' }),
            ]),
            pgReplica('pg2', { replayPos: 5_000_000 }),
            pgReplica('pg3'),
          ],
        },
      }),
      expect: [
        [
          { node: 'pg2', problem: 'lag' },
          /^replica pg2 lags 4\.8 MB \/ 42 s behind pg1 \(max 1\.0 MB \/ 30 s\): no longer a failover candidate$/,
        ],
      ],
    },
    clear: () => ({ postgres: steadyPostgres() }),
    failing: () => ({ postgres: pollFailed('postgres') }),
  },
  {
    type: postgresHealthRule,
    firing: {
      observed: () => ({
        postgres: { at: 0, nodes: [pgPrimary('pg1', [], { connections: 90 }), pgReplica('pg2'), pgReplica('pg3')] },
      }),
      expect: [
        [
          { node: 'pg1', problem: 'connections' },
          /^90 client connections on pg1 of 97 available \(max_connections 100\)$/,
        ],
      ],
    },
    clear: () => ({ postgres: steadyPostgres() }),
    failing: () => ({ postgres: pollFailed('postgres') }),
  },
  {
    type: etcdHealthRule,
    firing: {
      observed: () => ({
        etcd: etcdState([
          etcdEndpoint(1, true),
          etcdEndpoint(2, false, { healthReason: 'HTTP 503: {"health":"false"}' }),
          etcdEndpoint(3, true),
        ]),
      }),
      expect: [
        [
          { host: '127.0.0.1:2372', problem: 'unhealthy_member' },
          /^etcd member 127\.0\.0\.1:2372 is unhealthy: HTTP 503: \{"health":"false"\} \(2\/3 healthy, quorum 2\)$/,
        ],
      ],
    },
    clear: () => ({ etcd: etcdState([etcdEndpoint(1, true), etcdEndpoint(2, true), etcdEndpoint(3, true)]) }),
    failing: () => ({ etcd: pollFailed('etcd') }),
  },
  {
    type: splitBrainRule,
    firing: {
      // exactly two nodes out of recovery: "≥ 2" must catch it
      observed: () => ({
        patroni: steadyPatroni(),
        postgres: { at: 0, nodes: [pgPrimary('pg1'), pgPrimary('pg2'), pgReplica('pg3')] },
      }),
      expect: [
        [
          { node: 'cluster', problem: 'multiple_primaries' },
          /^SPLIT-BRAIN: 2 nodes accept writes \(pg1, pg2\); Patroni leader is pg1$/,
        ],
        [
          { node: 'pg2', problem: 'replica_not_in_recovery' },
          /^pg2 is not in recovery \(accepts writes\) but Patroni lists it as replica; leader is pg1$/,
        ],
      ],
    },
    clear: () => ({ patroni: steadyPatroni(), postgres: steadyPostgres() }),
    failing: () => ({ patroni: steadyPatroni(), postgres: pollFailed('postgres') }),
  },
  {
    type: httpRule,
    get spec() {
      return {
        targets: [
          { name: 'odoo1', url: `${base}/web/health` },
          { name: 'odoo2', url: `${base}/down` },
        ],
      };
    },
    firing: {
      observed: () => ({ http: createHttpProbe() }),
      expect: [[{ target: 'odoo2' }, /^odoo2 failed its health check: HTTP 503 \(expected 200\)$/]],
    },
    clear: () => ({ http: createHttpProbe() }),
    clearSpec: () => ({ targets: [{ name: 'odoo1', url: `${base}/web/health` }] }),
    // Our own evaluation deadline already passed: the probes say nothing about the targets.
    failing: () => ({ http: createHttpProbe() }),
    failingSignal: () => AbortSignal.abort(new Error('evaluation timeout')),
  },
  {
    // The watchers (config `ha:`): obs-c stopped renewing its lease; with no ha source there is one
    // watcher and nothing to compare with (etcd unreachable: unknown, in test/ha/leadership.test.ts).
    type: haWatchersRule,
    spec: { min_watchers: 2 },
    firing: {
      observed: () => ({ ha: watchersView(['obs-a active', 'obs-b standby'], ['obs-c']) }),
      expect: [
        [
          { watcher: 'obs-c', problem: 'watcher_lost' },
          /^watcher obs-c stopped renewing its etcd lease \(process or host down, or cut from etcd\); left: obs-a active, obs-b standby$/,
        ],
      ],
    },
    clear: () => ({ ha: watchersView(['obs-a active', 'obs-b standby'], []) }),
    failing: () => ({}),
  },
];

function watchersView(watchers: string[], lost: string[]): LeadershipView {
  return {
    instance: 'obs-a',
    role: 'active',
    reason: 'holds the leader key',
    leader: 'obs-a',
    etcdOk: true,
    since: 0,
    lost,
    watchers: watchers.map((w) => {
      const [instance, role] = w.split(' ');
      return { instance: instance!, role: role as LeadershipView['role'], at: 0 };
    }),
  };
}

function messages(t: RuleType, ev: Evaluation): [Record<string, string>, string][] {
  assert.ok(ev.ok, `expected a successful evaluation, got ${JSON.stringify(ev)}`);
  return ev.findings.map((f) => [f.labels, renderTemplate(t.defaultMessage, { ...f.labels, ...f.values })]);
}

describe('every cluster rule type: firing, clear, failing', () => {
  test('the table covers every rule type that reads a cluster source or probes HTTP', () => {
    const covered = new Set(CASES.map((c) => c.type.type));
    const expected = RULE_TYPES.filter((t) => !t.type.startsWith('log_')).map((t) => t.type);
    assert.deepEqual(
      expected.filter((t) => !covered.has(t)),
      [],
    );
  });

  for (const c of CASES) {
    const rule = () => ruleOf(c.type, c.spec);
    describe(c.type.type, () => {
      test('firing: each finding with its values in the rendered message', async () => {
        const ev = await c.type.evaluate(rule() as never, evalCtx(sourcesOf(c.firing.observed())));
        const got = messages(c.type, ev);
        assert.equal(got.length, c.firing.expect.length, JSON.stringify(got));
        for (const [i, [labels, re]] of c.firing.expect.entries()) {
          assert.deepEqual(got[i]![0], labels);
          assert.match(got[i]![1], re);
        }
      });

      test('clear: no findings, nothing unknown', async () => {
        const ev = await c.type.evaluate(
          ruleOf(c.type, c.clearSpec?.() ?? c.spec) as never,
          evalCtx(sourcesOf(c.clear())),
        );
        assert.deepEqual(messages(c.type, ev), []);
        assert.ok(ev.ok && ev.unknown === undefined, JSON.stringify(ev));
      });

      test('failing source: ok false, never "no findings"', async () => {
        const ev = await c.type.evaluate(
          rule() as never,
          evalCtx(sourcesOf(c.failing()), c.failingSignal ? { signal: c.failingSignal() } : {}),
        );
        assert.equal(ev.ok, false, JSON.stringify(ev));
        assert.equal(!ev.ok && ev.source, c.type.source);
      });
    });
  }
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { AlertEngine } from '../../src/alerts/engine.js';
import type { InhibitRule } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import type { EvalContext, Rule } from '../../src/rules/rule-type.js';
import { haproxyBackendRule, haproxyWriteBackendRule } from '../../src/rules/types/haproxy.js';
import { patroniLagRule, patroniLeaderRule, patroniMemberRule } from '../../src/rules/types/patroni.js';
import { parseStatsCsv } from '../../src/sources/haproxy/csv.js';
import { toStats, type HaproxyStats } from '../../src/sources/haproxy/status.js';
import { observed, type Observation } from '../../src/sources/observation.js';
import { mergeClusterState, type MemberPoll, type PatroniClusterState } from '../../src/sources/patroni/merge.js';
import { parseCluster, parseDynamicConfig, parseHistory, parseNodeStatus } from '../../src/sources/patroni/parse.js';
import type { Sources } from '../../src/sources/sources.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { makeRule, summarize } from '../support/builders.js';

const lab = (f: string) => readFileSync(new URL(`../fixtures/lab/${f}`, import.meta.url), 'utf8');
const down = { ok: false as const, error: { kind: 'unreachable' as const, message: 'connection refused' } };

function cluster(clusterJson: string, roles: Record<string, string | 'down'>, at: number, timeline = 1, history = '[]'): PatroniClusterState {
  const polls: MemberPoll[] = ['pg1', 'pg2', 'pg3'].map((name) => {
    const role = roles[name]!;
    if (role === 'down') return { name, url: '', status: down, cluster: down, history: down, config: down };
    return { name, url: '', status: { ok: true, value: parseNodeStatus(JSON.stringify({ state: 'running', role, timeline })) }, cluster: { ok: true, value: parseCluster(clusterJson) }, history: { ok: true, value: parseHistory(history) }, config: { ok: true, value: parseDynamicConfig(lab('patroni-config.json')) } };
  });
  return mergeClusterState(polls, at)!;
}
const steadyJson = (leader: string, timeline: number) => JSON.stringify({ members: ['pg1', 'pg2', 'pg3'].map((n) => ({ name: n, role: n === leader ? 'leader' : 'replica', state: 'running', timeline, ...(n === leader ? {} : { lag: 0 }) })) });

function sources(p: { patroni?: () => PatroniClusterState; haproxy?: () => HaproxyStats }): Sources {
  return {
    http: { probe: async () => ({ url: '', durationMs: 0 }) },
    ...(p.patroni ? { patroni: { members: [], poll: async () => observed('patroni', p.patroni!()) as Observation<PatroniClusterState> } } : {}),
    ...(p.haproxy ? { haproxy: { writeBackend: 'pg_primary', poll: async () => observed('haproxy', p.haproxy!()) as Observation<HaproxyStats> } } : {}),
    async close() {},
  };
}

function asRule(type: { type: string; defaultMessage: string; shape: Record<string, unknown> }, id: string, spec: Record<string, unknown>, over: Partial<Rule> = {}): Rule {
  return makeRule({ id, type: type.type, message: type.defaultMessage, spec, ...over });
}

describe('patroni_leader through the engine: one incident, not a storm', () => {
  test('kill -9 of the primary: primary down at once, one "failover completed", one resolved message on rejoin; write backend muted', async () => {
    const store = new SqliteStore(':memory:');
    const inhibit: InhibitRule[] = [{ source_matchers: { rule: 'patroni-failover' }, target_matchers: { rule: 'haproxy-write-backend', problem: ['no_primary', 'wrong_primary'] }, equal: [] }];
    const engine = new AlertEngine({ store, notifiers: [], cluster: 'c', logger: silentLogger, failingAfterMs: 60_000, inhibit });
    const failover = asRule(patroniLeaderRule, 'patroni-failover', { watch: 'failover', transition_grace: 20_000 }, { severity: 'critical' });
    const switchover = asRule(patroniLeaderRule, 'patroni-switchover', { watch: 'switchover', transition_grace: 20_000 }, { severity: 'info' });
    const wb = asRule(haproxyWriteBackendRule, 'haproxy-write-backend', { backend: 'pg_primary', check_leader: true }, { severity: 'critical' });
    const hist = JSON.stringify([[1, 83886240, 'no recovery target specified', new Date(31_000).toISOString(), 'pg3']]);
    const timeline: [number, () => PatroniClusterState, string][] = [
      [0, () => cluster(lab('patroni-cluster-steady.json'), { pg1: 'master', pg2: 'replica', pg3: 'replica' }, 0), 'haproxy-stats-steady.csv'],
      [5_000, () => cluster(lab('patroni-cluster-failover-stale-leader.json'), { pg1: 'down', pg2: 'replica', pg3: 'replica' }, 5_000), 'haproxy-stats-failover.csv'],
      [30_000, () => cluster(lab('patroni-cluster-failover-no-leader.json'), { pg1: 'down', pg2: 'replica', pg3: 'replica' }, 30_000), 'haproxy-stats-failover.csv'],
      [35_000, () => cluster(JSON.stringify({ members: [{ name: 'pg3', role: 'leader', state: 'running', timeline: 2 }, { name: 'pg2', role: 'replica', state: 'running', timeline: 2, lag: 0 }] }), { pg1: 'down', pg2: 'replica', pg3: 'master' }, 35_000, 2, hist), 'haproxy-show-stat-after-failover.csv'],
      [60_000, () => cluster(steadyJson('pg3', 2), { pg1: 'replica', pg2: 'replica', pg3: 'master' }, 60_000, 2, hist), 'haproxy-show-stat-after-failover.csv'],
    ];
    const sent: string[] = [];
    for (const [at, pat, csv] of timeline) {
      const src = sources({ patroni: pat, haproxy: () => toStats(parseStatsCsv(lab(csv))) });
      for (const rule of [failover, switchover, wb]) {
        const ctx: EvalContext = { now: new Date(at), signal: new AbortController().signal, sources: src, logger: silentLogger };
        const cursor = await store.getCursor(rule.id);
        if (cursor !== undefined) ctx.cursor = cursor;
        const ev = await (rule.id === 'haproxy-write-backend' ? haproxyWriteBackendRule : patroniLeaderRule).evaluate(rule as never, ctx);
        const r = await engine.apply(rule, ev, at);
        for (const n of r.notifications) sent.push(`${at / 1000}s ${rule.id} ${summarize([n])[0]} ${n.alerts.map((a) => a.message).join(' | ')}`);
      }
    }
    assert.equal(sent.length, 3, sent.join('\n'));
    assert.match(sent[0]!, /^5s patroni-failover firing:pg1\/primary_down primary pg1 is down: REST API unreachable: connection refused/);
    assert.match(sent[1]!, /^35s patroni-failover firing:pg1\/failover failover completed: pg1 → pg3, timeline 2, writes were impossible for ~26 s/);
    assert.match(sent[2]!, /^60s patroni-failover resolved:pg1\/failover,pg1\/primary_down/);
    await store.close();
  });
});

describe('rule types on recorded lab states', () => {
  const ctx = (src: Sources): EvalContext => ({ now: new Date(0), signal: new AbortController().signal, sources: src, logger: silentLogger });

  test('write backend: 0 UP, 1 UP but not the leader, 2 UP', async () => {
    const steadyLeaderPg3 = () => cluster(steadyJson('pg3', 2), { pg1: 'replica', pg2: 'replica', pg3: 'master' }, 0, 2);
    const rule = asRule(haproxyWriteBackendRule, 'wb', { check_leader: true });
    const run = async (csv: string) => haproxyWriteBackendRule.evaluate(rule as never, ctx(sources({ patroni: steadyLeaderPg3, haproxy: () => toStats(parseStatsCsv(csv)) })));
    const ev0 = await run(lab('haproxy-stats-failover.csv'));
    assert.ok(ev0.ok);
    assert.deepEqual(ev0.findings.map((f) => f.labels['problem']), ['no_primary']);
    const wrong = await run(lab('haproxy-stats-steady.csv'));
    assert.ok(wrong.ok);
    assert.match(String(wrong.findings[0]!.values['detail']), /sends writes to pg1 but the Patroni leader is pg3/);
    const two = await run(lab('haproxy-stats-steady.csv').replace(/^pg_primary,pg2,(.*?),DOWN,/m, 'pg_primary,pg2,$1,UP,'));
    assert.ok(two.ok);
    assert.deepEqual(two.findings.map((f) => f.labels['problem']), ['multiple_primaries']);
    const fine = await run(lab('haproxy-show-stat-after-failover.csv'));
    assert.ok(fine.ok && fine.findings.length === 0);
  });

  test('odoo worker down: server DOWN with its check reason', async () => {
    const ev = await haproxyBackendRule.evaluate(asRule(haproxyBackendRule, 'hb', { backends: ['odoo_workers'], checks: ['no_server_up', 'server_down'], sessions_ratio: 0.9, max_queue: 0 }) as never, ctx(sources({ haproxy: () => toStats(parseStatsCsv(lab('haproxy-stats-odoo-down.csv'))) })));
    assert.ok(ev.ok);
    assert.deepEqual(ev.findings.map((f) => f.labels), [{ backend: 'odoo_workers', server: 'odoo1', problem: 'server_down' }]);
    assert.match(String(ev.findings[0]!.values['detail']), /odoo_workers\/odoo1 is DOWN \(Layer4 connection problem/);
  });

  test('patroni_lag reads maximum_lag_on_failover from /config; member unreachable', async () => {
    const lagging = () => cluster(lab('patroni-cluster-lagging-replica.json'), { pg1: 'master', pg2: 'replica', pg3: 'replica' }, 0);
    const ev = await patroniLagRule.evaluate(asRule(patroniLagRule, 'lag', { unknown_lag: true }) as never, ctx(sources({ patroni: lagging })));
    assert.ok(ev.ok);
    assert.deepEqual(ev.findings.map((f) => [f.labels['member'], f.values['lag_bytes'], f.values['max_lag_bytes'], f.values['candidate']]), [['pg2', 4860256, 1048576, 'no']]);
    const dead = () => cluster(lab('patroni-cluster-failover-no-leader.json'), { pg1: 'down', pg2: 'replica', pg3: 'replica' }, 0);
    const m = await patroniMemberRule.evaluate(asRule(patroniMemberRule, 'md', { checks: ['down', 'timeline_behind'] }) as never, ctx(sources({ patroni: dead })));
    assert.ok(m.ok);
    assert.deepEqual(m.findings.map((f) => f.labels), [{ member: 'pg1', problem: 'down' }]);
    assert.match(String(m.findings[0]!.values['detail']), /REST API unreachable \(connection refused\), and gone from the DCS/);
  });
});

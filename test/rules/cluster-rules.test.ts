import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { AlertEngine } from '../../src/alerts/engine.js';
import type { Notification } from '../../src/alerts/notification.js';
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

function cluster(
  clusterJson: string,
  roles: Record<string, string | 'down'>,
  at: number,
  timeline = 1,
  history = '[]',
  wal?: number,
): PatroniClusterState {
  const polls: MemberPoll[] = ['pg1', 'pg2', 'pg3'].map((name) => {
    const role = roles[name]!;
    if (role === 'down') return { name, url: '', status: down, cluster: down, history: down, config: down };
    return {
      name,
      url: '',
      status: {
        ok: true,
        value: parseNodeStatus(
          JSON.stringify({
            state: 'running',
            role,
            timeline,
            ...(role === 'master' && wal !== undefined ? { xlog: { location: wal } } : {}),
          }),
        ),
      },
      cluster: { ok: true, value: parseCluster(clusterJson) },
      history: { ok: true, value: parseHistory(history) },
      config: { ok: true, value: parseDynamicConfig(lab('patroni-config.json')) },
    };
  });
  return mergeClusterState(polls, at)!;
}
const steadyJson = (leader: string, timeline: number) =>
  JSON.stringify({
    members: ['pg1', 'pg2', 'pg3'].map((n) => ({
      name: n,
      role: n === leader ? 'leader' : 'replica',
      state: 'running',
      timeline,
      ...(n === leader ? {} : { lag: 0 }),
    })),
  });

function sources(p: { patroni?: () => PatroniClusterState; haproxy?: () => HaproxyStats }): Sources {
  return {
    http: { probe: async () => ({ url: '', durationMs: 0 }) },
    ...(p.patroni
      ? {
          patroni: {
            members: [],
            poll: async () => observed('patroni', p.patroni!()) as Observation<PatroniClusterState>,
          },
        }
      : {}),
    ...(p.haproxy
      ? {
          haproxy: {
            writeBackend: 'pg_primary',
            poll: async () => observed('haproxy', p.haproxy!()) as Observation<HaproxyStats>,
          },
        }
      : {}),
    async close() {},
  };
}

function asRule(
  type: { type: string; defaultMessage: string; shape: Record<string, unknown> },
  id: string,
  spec: Record<string, unknown>,
  over: Partial<Rule> = {},
): Rule {
  return makeRule({ id, type: type.type, message: type.defaultMessage, spec, ...over });
}

describe('patroni_leader through the engine: one incident, not a storm', () => {
  const inhibit: InhibitRule[] = [
    {
      source_matchers: { rule: 'patroni-failover' },
      target_matchers: { rule: 'haproxy-write-backend', problem: ['no_primary', 'wrong_primary'] },
      equal: [],
    },
  ];
  const failover = asRule(
    patroniLeaderRule,
    'patroni-failover',
    { watch: 'failover', transition_grace: 20_000, write_outage_target: 30_000 },
    { severity: 'critical' },
  );
  const switchover = asRule(
    patroniLeaderRule,
    'patroni-switchover',
    { watch: 'switchover', transition_grace: 20_000, write_outage_target: 30_000 },
    { severity: 'info' },
  );
  const wb = asRule(
    haproxyWriteBackendRule,
    'haproxy-write-backend',
    { backend: 'pg_primary', check_leader: true },
    { severity: 'critical' },
  );
  /** pg3 promoted at 80 MiB + 160 B (its timeline forks there); pg1 was polled 1.2 MB further. */
  const PROMOTED = 83886240;
  const hist = JSON.stringify([[1, PROMOTED, 'no recovery target specified', new Date(31_000).toISOString(), 'pg3']]);
  const afterFailover = (at: number, pg1: 'down' | 'replica') => () =>
    pg1 === 'down'
      ? cluster(
          JSON.stringify({
            members: [
              { name: 'pg3', role: 'leader', state: 'running', timeline: 2 },
              { name: 'pg2', role: 'replica', state: 'running', timeline: 2, lag: 0 },
            ],
          }),
          { pg1: 'down', pg2: 'replica', pg3: 'master' },
          at,
          2,
          hist,
        )
      : cluster(steadyJson('pg3', 2), { pg1: 'replica', pg2: 'replica', pg3: 'master' }, at, 2, hist);

  async function run(timeline: [number, () => PatroniClusterState, string][]) {
    const store = new SqliteStore(':memory:');
    const engine = new AlertEngine({
      store,
      notifiers: [],
      cluster: 'c',
      logger: silentLogger,
      failingAfterMs: 60_000,
      inhibit,
    });
    const sent: { line: string; n: Notification }[] = [];
    for (const [at, pat, csv] of timeline) {
      const src = sources({ patroni: pat, haproxy: () => toStats(parseStatsCsv(lab(csv))) });
      for (const rule of [failover, switchover, wb]) {
        const ctx: EvalContext = {
          now: new Date(at),
          signal: new AbortController().signal,
          sources: src,
          logger: silentLogger,
        };
        const cursor = await store.getCursor(rule.id);
        if (cursor !== undefined) ctx.cursor = cursor;
        const ev = await (rule.id === 'haproxy-write-backend' ? haproxyWriteBackendRule : patroniLeaderRule).evaluate(
          rule as never,
          ctx,
        );
        const r = await engine.apply(rule, ev, at);
        for (const n of r.notifications)
          sent.push({
            line: `${at / 1000}s ${rule.id} ${summarize([n])[0]} ${n.alerts.map((a) => `${a.phase ?? ''}${a.attention ? '!' : ''} ${a.message}`).join(' | ')}`,
            n,
          });
      }
    }
    await store.close();
    return sent;
  }

  test('kill -9 of the primary: one first page, phases as updates of the same alert, one resolve saying what recovered; write backend muted', async () => {
    const sent = await run([
      [
        0,
        () =>
          cluster(
            lab('patroni-cluster-steady.json'),
            { pg1: 'master', pg2: 'replica', pg3: 'replica' },
            0,
            1,
            '[]',
            PROMOTED + 1258291,
          ),
        'haproxy-stats-steady.csv',
      ],
      [
        5_000,
        () =>
          cluster(
            lab('patroni-cluster-failover-stale-leader.json'),
            { pg1: 'down', pg2: 'replica', pg3: 'replica' },
            5_000,
          ),
        'haproxy-stats-failover.csv',
      ],
      [
        30_000,
        () =>
          cluster(
            lab('patroni-cluster-failover-no-leader.json'),
            { pg1: 'down', pg2: 'replica', pg3: 'replica' },
            30_000,
          ),
        'haproxy-stats-failover.csv',
      ],
      [35_000, afterFailover(35_000, 'down'), 'haproxy-show-stat-after-failover.csv'],
      [60_000, afterFailover(60_000, 'down'), 'haproxy-show-stat-after-failover.csv'],
      [255_000, afterFailover(255_000, 'replica'), 'haproxy-show-stat-after-failover.csv'],
    ]);
    const lines = sent.map((s) => s.line);
    assert.equal(lines.length, 5, lines.join('\n'));
    assert.match(
      lines[0]!,
      /^5s patroni-failover firing:pg1\/primary_down down primary pg1 is down: REST API unreachable: connection refused — writes are impossible; Patroni promotes a replica once the leader key expires \(ttl 30 s/,
    );
    assert.match(
      lines[1]!,
      /^30s patroni-failover update:pg1\/primary_down election no leader: Patroni is electing a new one among 2 failover candidates — writes impossible since 00:00:05 \(25 s\)/,
    );
    assert.match(
      lines[2]!,
      /^35s patroni-failover update:pg1\/primary_down failover_completed! failover completed: pg1 → pg3, timeline 2, writes impossible for 26 s \(target < 30 s\); ≥ 1\.2 MB of WAL not replicated \(estimate: pg1 was at 0\/51333D3 at 00:00:00, pg3 promoted at 0\/50000A0; writes after that poll not counted\)$/,
    );
    assert.match(
      lines[3]!,
      /^60s patroni-failover update:pg1\/primary_down degraded cluster degraded: 2 of 3 members, 1 failover candidate left; pg1 still down \(REST API unreachable \(connection refused\)\) since 00:00:05; pg3 leads on timeline 2 since 00:00:35$/,
    );
    assert.match(
      lines[4]!,
      /^255s patroni-failover resolved:pg1\/primary_down recovered pg1 rejoined as a replica on timeline 2, lag 0 B, after 4 m 10 s; 3 of 3 members, 2 failover candidates left$/,
    );
    // The story rides on the alert: the resolve carries every phase, in order.
    assert.deepEqual(
      sent[4]!.n.alerts[0]!.story!.map((e) => e.phase),
      ['down', 'election', 'failover_completed', 'degraded', 'recovered'],
    );
  });

  test('0 bytes at risk when the new leader had replayed everything the old primary had written', async () => {
    const sent = await run([
      [
        0,
        () =>
          cluster(
            lab('patroni-cluster-steady.json'),
            { pg1: 'master', pg2: 'replica', pg3: 'replica' },
            0,
            1,
            '[]',
            PROMOTED,
          ),
        'haproxy-stats-steady.csv',
      ],
      [
        5_000,
        () =>
          cluster(
            lab('patroni-cluster-failover-stale-leader.json'),
            { pg1: 'down', pg2: 'replica', pg3: 'replica' },
            5_000,
          ),
        'haproxy-stats-failover.csv',
      ],
      [35_000, afterFailover(35_000, 'down'), 'haproxy-show-stat-after-failover.csv'],
    ]);
    assert.match(
      sent.map((s) => s.line).join('\n'),
      /failover completed: pg1 → pg3, .*; 0 bytes at risk: pg3 had replayed everything pg1 had written by its last poll at 00:00:00 \(0\/50000A0\)/,
    );
  });

  test('a planned switchover is one announcement with its write pause, and no resolve', async () => {
    const histSw = JSON.stringify([[1, PROMOTED, 'switchover', new Date(3_000).toISOString(), 'pg3']]);
    const sent = await run([
      [
        0,
        () => cluster(steadyJson('pg1', 1), { pg1: 'master', pg2: 'replica', pg3: 'replica' }, 0, 1),
        'haproxy-stats-steady.csv',
      ],
      [
        5_000,
        () => cluster(steadyJson('pg3', 2), { pg1: 'replica', pg2: 'replica', pg3: 'master' }, 5_000, 2, histSw),
        'haproxy-show-stat-after-failover.csv',
      ],
      [
        10_000,
        () => cluster(steadyJson('pg3', 2), { pg1: 'replica', pg2: 'replica', pg3: 'master' }, 10_000, 2, histSw),
        'haproxy-show-stat-after-failover.csv',
      ],
    ]);
    const sw = sent.filter((s) => s.n.rule.id === 'patroni-switchover').map((s) => s.line);
    assert.deepEqual(sw, [
      '5s patroni-switchover firing:pg1/switchover switchover planned switchover: pg1 → pg3, timeline 2, writes paused 3 s',
    ]);
  });
});

describe('rule types on recorded lab states', () => {
  const ctx = (src: Sources): EvalContext => ({
    now: new Date(0),
    signal: new AbortController().signal,
    sources: src,
    logger: silentLogger,
  });

  test('write backend: 0 UP, 1 UP but not the leader, 2 UP', async () => {
    const steadyLeaderPg3 = () =>
      cluster(steadyJson('pg3', 2), { pg1: 'replica', pg2: 'replica', pg3: 'master' }, 0, 2);
    const rule = asRule(haproxyWriteBackendRule, 'wb', { check_leader: true });
    const run = async (csv: string) =>
      haproxyWriteBackendRule.evaluate(
        rule as never,
        ctx(sources({ patroni: steadyLeaderPg3, haproxy: () => toStats(parseStatsCsv(csv)) })),
      );
    const ev0 = await run(lab('haproxy-stats-failover.csv'));
    assert.ok(ev0.ok);
    assert.deepEqual(
      ev0.findings.map((f) => f.labels['problem']),
      ['no_primary'],
    );
    const wrong = await run(lab('haproxy-stats-steady.csv'));
    assert.ok(wrong.ok);
    assert.match(String(wrong.findings[0]!.values['detail']), /sends writes to pg1 but the Patroni leader is pg3/);
    const two = await run(
      lab('haproxy-stats-steady.csv').replace(/^pg_primary,pg2,(.*?),DOWN,/m, 'pg_primary,pg2,$1,UP,'),
    );
    assert.ok(two.ok);
    assert.deepEqual(
      two.findings.map((f) => f.labels['problem']),
      ['multiple_primaries'],
    );
    const fine = await run(lab('haproxy-show-stat-after-failover.csv'));
    assert.ok(fine.ok && fine.findings.length === 0);
  });

  test('odoo worker down: server DOWN with its check reason', async () => {
    const ev = await haproxyBackendRule.evaluate(
      asRule(haproxyBackendRule, 'hb', {
        backends: ['odoo_workers'],
        checks: ['no_server_up', 'server_down'],
        sessions_ratio: 0.9,
        max_queue: 0,
      }) as never,
      ctx(sources({ haproxy: () => toStats(parseStatsCsv(lab('haproxy-stats-odoo-down.csv'))) })),
    );
    assert.ok(ev.ok);
    assert.deepEqual(
      ev.findings.map((f) => f.labels),
      [{ backend: 'odoo_workers', server: 'odoo1', problem: 'server_down' }],
    );
    assert.match(String(ev.findings[0]!.values['detail']), /odoo_workers\/odoo1 is DOWN \(Layer4 connection problem/);
  });

  test('patroni_lag reads maximum_lag_on_failover from /config; member unreachable', async () => {
    const lagging = () =>
      cluster(lab('patroni-cluster-lagging-replica.json'), { pg1: 'master', pg2: 'replica', pg3: 'replica' }, 0);
    const ev = await patroniLagRule.evaluate(
      asRule(patroniLagRule, 'lag', { unknown_lag: true }) as never,
      ctx(sources({ patroni: lagging })),
    );
    assert.ok(ev.ok);
    assert.deepEqual(
      ev.findings.map((f) => [
        f.labels['member'],
        f.values['lag_bytes'],
        f.values['max_lag_bytes'],
        f.values['candidate'],
      ]),
      [['pg2', 4860256, 1048576, 'no']],
    );
    const dead = () =>
      cluster(lab('patroni-cluster-failover-no-leader.json'), { pg1: 'down', pg2: 'replica', pg3: 'replica' }, 0);
    const m = await patroniMemberRule.evaluate(
      asRule(patroniMemberRule, 'md', { checks: ['down', 'timeline_behind'] }) as never,
      ctx(sources({ patroni: dead })),
    );
    assert.ok(m.ok);
    assert.deepEqual(
      m.findings.map((f) => f.labels),
      [{ member: 'pg1', problem: 'down' }],
    );
    assert.match(
      String(m.findings[0]!.values['detail']),
      /REST API unreachable \(connection refused\), and gone from the DCS/,
    );
  });
});

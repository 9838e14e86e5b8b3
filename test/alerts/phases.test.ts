/**
 * The incident phase machine (pure lifecycle) and the words of a resolve: a phase change is an
 * update (a reply only when it needs attention), a live alert's new count an edit, an announcement
 * is told once, and a RESOLVED line states what recovered.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Alert } from '../../src/alerts/alert.js';
import { AlertEngine, resolveVars } from '../../src/alerts/engine.js';
import { step, type LifecycleRule, type StepResult } from '../../src/alerts/lifecycle.js';
import { silentLogger } from '../../src/log.js';
import { createConsoleNotifier } from '../../src/notify/console.js';
import { formatText } from '../../src/notify/format-text.js';
import { RULE_TYPES } from '../../src/rules/registry.js';
import type { Finding } from '../../src/rules/rule-type.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { makeRule } from '../support/builders.js';

const rule: LifecycleRule = { id: 'r', severity: 'critical', labels: {}, for: 0, keepFiringFor: 0, repeat: 600_000 };
const f = (over: Partial<Finding> = {}): Finding => ({ labels: { member: 'pg1' }, values: {}, ...over });

function run(seq: { at: number; findings: Finding[]; msg?: string }[], muted = false) {
  let current: Alert[] = [];
  const out: (StepResult & { at: number })[] = [];
  for (const s of seq) {
    const r = step({
      rule,
      current,
      findings: s.findings,
      now: s.at,
      render: (x) => s.msg ?? String(x.phase ?? 'msg'),
      isMuted: () => muted,
      recovered: (a) => `back after ${a.phase}`,
    });
    const byFp = new Map(current.map((a) => [a.fingerprint, a]));
    for (const a of r.upserts) byFp.set(a.fingerprint, a);
    for (const d of r.deletes) byFp.delete(d);
    current = [...byFp.values()];
    out.push({ ...r, at: s.at });
  }
  return out;
}

const kinds = (r: StepResult) =>
  [
    ...r.firing.map((a) => (a.repeat ? 'reminder' : `page:${a.phase ?? ''}`)),
    ...r.updates.map((a) => `${a.attention ? 'reply' : 'edit'}:${a.phase ?? ''}${a.phaseChanged ? '' : '(live)'}`),
    ...r.resolved.map((a) => `resolve:${a.message}`),
  ].join(' ') || '-';

describe('incident phases (lifecycle)', () => {
  test('down → election → failover_completed → degraded → reminder → recovered: one page, updates, one resolve', () => {
    const rs = run([
      { at: 0, findings: [f({ phase: 'down' })] },
      { at: 5_000, findings: [f({ phase: 'down' })] },
      { at: 25_000, findings: [f({ phase: 'election' })] },
      { at: 30_000, findings: [f({ phase: 'failover_completed', attention: true })] },
      { at: 50_000, findings: [f({ phase: 'degraded' })] },
      { at: 600_000, findings: [f({ phase: 'degraded' })] },
      { at: 650_001, findings: [f({ phase: 'degraded' })] },
      { at: 700_000, findings: [] },
    ]);
    assert.deepEqual(rs.map(kinds), [
      'page:down',
      '-',
      'edit:election',
      'reply:failover_completed',
      'edit:degraded',
      '-',
      'reminder',
      'resolve:back after degraded',
    ]);
    const resolved = rs[7]!.resolved[0]!;
    assert.deepEqual(
      resolved.story!.map((e) => [e.phase, e.at]),
      [
        ['down', 0],
        ['election', 25_000],
        ['failover_completed', 30_000],
        ['degraded', 50_000],
        ['recovered', 700_000],
      ],
    );
    assert.equal(resolved.phase, 'recovered');
    // The stored transition says what recovered too (/history).
    assert.equal(rs[7]!.transitions[0]!.message, 'back after degraded');
  });

  test('a phase change counts as a notification for the repeat cadence', () => {
    const rs = run([
      { at: 0, findings: [f({ phase: 'down' })] },
      { at: 500_000, findings: [f({ phase: 'degraded' })] },
      { at: 700_000, findings: [f({ phase: 'degraded' })] },
      { at: 1_100_000, findings: [f({ phase: 'degraded' })] },
    ]);
    assert.deepEqual(rs.map(kinds), ['page:down', 'edit:degraded', '-', 'reminder']);
  });

  test('muted alerts: no updates either', () => {
    const rs = run(
      [
        { at: 0, findings: [f({ phase: 'down' })] },
        { at: 1, findings: [f({ phase: 'degraded', attention: true })] },
      ],
      true,
    );
    assert.deepEqual(rs.map(kinds), ['-', '-']);
  });

  test('live alerts: a changed message edits quietly; the same message does not', () => {
    const rs = run([
      { at: 0, findings: [f({ live: true })], msg: '3 errors' },
      { at: 1, findings: [f({ live: true })], msg: '3 errors' },
      { at: 2, findings: [f({ live: true })], msg: '52 errors' },
    ]);
    assert.deepEqual(rs.map(kinds), ['page:', '-', 'edit:(live)']);
  });

  test('an announcement is told once: no reminder, no resolve', () => {
    const rs = run([
      { at: 0, findings: [f({ phase: 'switchover', announce: true })] },
      { at: 5_000_000, findings: [f({ phase: 'switchover', announce: true })] },
      { at: 5_000_001, findings: [] },
    ]);
    assert.deepEqual(rs.map(kinds), ['page:switchover', '-', '-']);
    assert.equal(rs[2]!.upserts[0]!.state, 'resolved');
  });
});

describe('every RESOLVED line states the recovered condition', () => {
  const alert = (values: Alert['values'], labels: Alert['labels']): Alert => ({
    fingerprint: 'f',
    shortId: 'f',
    ruleId: 'x',
    labels,
    state: 'firing',
    severity: 'warning',
    activeSince: Date.UTC(2026, 0, 1, 11, 20),
    firedAt: Date.UTC(2026, 0, 1, 11, 20),
    lastSeenAt: Date.UTC(2026, 0, 1, 11, 42),
    message: 'failing',
    values,
  });
  const now = Date.UTC(2026, 0, 1, 11, 57);

  test('log rules: "no … for 15m (last at 11:42)", never the last failing count', () => {
    const type = (t: string) => RULE_TYPES.find((x) => x.type === t)!;
    const vars = resolveVars(
      {},
      alert({ count: 21, threshold: 20, window: '1m', group: 'host.name=odoo1' }, { host_name: 'odoo1' }),
      undefined,
      now,
    );
    assert.equal(type('log_any').recovered(vars), 'no matching log lines from host.name=odoo1 for 15m (last at 11:42)');
    assert.equal(
      type('log_frequency').recovered(vars),
      'matching log lines from host.name=odoo1 back under 20 per 1m for 15m (last over it at 11:42)',
    );
    for (const t of RULE_TYPES) assert.doesNotMatch(t.recovered(vars), /21|failing/, t.type);
  });

  test('each problem of a cluster rule recovers in its own words; recovery facts from the evaluation win', () => {
    const type = (t: string) => RULE_TYPES.find((x) => x.type === t)!;
    assert.equal(
      type('haproxy_backend').recovered(
        resolveVars(
          {},
          alert(
            { detail: 'odoo_workers/odoo1 is DOWN' },
            { backend: 'odoo_workers', server: 'odoo1', problem: 'server_down' },
          ),
          undefined,
          now,
        ),
      ),
      'odoo_workers/odoo1 is UP again',
    );
    assert.equal(
      type('patroni_member').recovered(resolveVars({}, alert({}, { member: 'pg2', problem: 'down' }), undefined, now)),
      'member pg2 is back: REST API answers, PostgreSQL running',
    );
    const rec = [
      {
        labels: { member: 'pg1' },
        values: { recovery: 'pg1 rejoined as a replica on timeline 12, lag 0 B, after 4 m 10 s' },
      },
      { labels: { member: 'pg9' }, values: { recovery: 'not this one' } },
    ];
    assert.equal(
      type('patroni_leader').recovered(
        resolveVars({}, alert({ summary: 'cluster degraded' }, { member: 'pg1', event: 'primary_down' }), rec, now),
      ),
      'pg1 rejoined as a replica on timeline 12, lag 0 B, after 4 m 10 s',
    );
  });

  test('resolved_message overrides the type, with the last values and timing placeholders; the console tells it', async () => {
    const store = new SqliteStore(':memory:');
    const lines: string[] = [];
    const engine = new AlertEngine({
      store,
      notifiers: [createConsoleNotifier({ write: (t) => lines.push(t), now: () => 0 })],
      cluster: 'c',
      logger: silentLogger,
      failingAfterMs: 60_000,
    });
    const r = makeRule({
      id: 'w',
      type: 'http',
      message: '{{target}} failed: {{error}}',
      resolvedMessage: '{{target}} healthy again (last failure {{last_at}}, {{quiet_for}} ago)',
    });
    await engine.apply(
      r,
      { ok: true, findings: [{ labels: { target: 'odoo1' }, values: { target: 'odoo1', error: 'HTTP 503' } }] },
      Date.UTC(2026, 0, 1, 11, 42),
    );
    const res = await engine.apply(r, { ok: true, findings: [] }, Date.UTC(2026, 0, 1, 11, 47));
    assert.equal(res.notifications[0]!.alerts[0]!.message, 'odoo1 healthy again (last failure 11:42, 5m ago)');
    assert.match(formatText(res.notifications[0]!, { now: 0 }), /✅ RESOLVED .*\n• \[\w+\] odoo1 healthy again/);
    const def = await engine.apply(
      makeRule({ id: 'd', type: 'http', message: '{{target}} failed' }),
      { ok: true, findings: [{ labels: { target: 'odoo2' }, values: { target: 'odoo2' } }] },
      0,
    );
    assert.equal(def.notifications[0]!.kind, 'firing');
    const back = await engine.apply(
      makeRule({ id: 'd', type: 'http', message: '{{target}} failed' }),
      { ok: true, findings: [] },
      60_000,
    );
    assert.equal(
      back.notifications[0]!.alerts[0]!.message,
      'odoo2 answers its health check again (last failure at 00:00)',
    );
    await store.close();
  });

  test('console: a phase change is one line, a reply-worthy one marked; a live count is not printed', () => {
    const n = {
      key: 'k',
      kind: 'update' as const,
      cluster: 'odoo-cluster',
      rule: {
        id: 'patroni-failover',
        name: 'Primary down / failover',
        type: 'patroni_leader',
        severity: 'critical' as const,
      },
      commonLabels: {},
      at: 0,
      alerts: [
        {
          fingerprint: 'f',
          shortId: 'abc123',
          labels: {},
          values: {},
          message: 'failover completed: pg1 → pg3',
          activeSince: 0,
          repeat: false,
          phase: 'failover_completed',
          phaseChanged: true,
          attention: true,
        },
      ],
    };
    assert.equal(
      formatText(n, { now: 0 }),
      '↪! [critical] Primary down / failover — odoo-cluster: failover completed: failover completed: pg1 → pg3 [abc123]',
    );
  });
});

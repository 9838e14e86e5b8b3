import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fingerprintOf, type Alert } from '../../src/alerts/alert.js';
import { AlertEngine, isInhibited } from '../../src/alerts/engine.js';
import { configSchema, type InhibitRule } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { finding, makeRule, summarize } from '../support/builders.js';

const firing = (ruleId: string, labels: Record<string, string>, state: Alert['state'] = 'firing'): Alert => {
  const fp = fingerprintOf(ruleId, labels);
  return {
    fingerprint: fp,
    shortId: fp.slice(0, 6),
    ruleId,
    labels,
    state,
    severity: 'critical',
    activeSince: 0,
    lastSeenAt: 0,
    message: '',
    values: {},
  };
};
const rule = (r: Partial<InhibitRule>): InhibitRule => ({ source_matchers: {}, target_matchers: {}, equal: [], ...r });

describe('isInhibited', () => {
  const rules = [
    rule({
      source_matchers: { rule: 'patroni-failover' },
      target_matchers: { rule: ['haproxy-write-backend', 'postgres-not-streaming'] },
    }),
    rule({
      source_matchers: { rule: 'patroni-failover' },
      target_matchers: { rule: 'patroni-member-down' },
      equal: ['member'],
    }),
  ];
  const incident = [firing('patroni-failover', { member: 'pg1', event: 'primary_down' })];

  test('a firing source mutes matching targets (rule id list, equal labels)', () => {
    assert.equal(
      isInhibited(
        {
          ruleId: 'haproxy-write-backend',
          severity: 'critical',
          labels: { backend: 'pg_primary', problem: 'no_primary' },
        },
        incident,
        rules,
      ),
      true,
    );
    assert.equal(
      isInhibited(
        { ruleId: 'patroni-member-down', severity: 'warning', labels: { member: 'pg1', problem: 'down' } },
        incident,
        rules,
      ),
      true,
    );
    // another member going down during the incident is news
    assert.equal(
      isInhibited(
        { ruleId: 'patroni-member-down', severity: 'warning', labels: { member: 'pg3', problem: 'down' } },
        incident,
        rules,
      ),
      false,
    );
    assert.equal(
      isInhibited({ ruleId: 'split-brain', severity: 'critical', labels: { node: 'cluster' } }, incident, rules),
      false,
    );
  });

  test('pending or resolved sources do not inhibit; an alert never inhibits itself', () => {
    assert.equal(
      isInhibited(
        { ruleId: 'haproxy-write-backend', severity: 'critical', labels: {} },
        [firing('patroni-failover', { member: 'pg1' }, 'pending')],
        rules,
      ),
      false,
    );
    const self = [rule({ source_matchers: { problem: 'x' }, target_matchers: { problem: 'x' } })];
    assert.equal(
      isInhibited(
        { ruleId: 'r', severity: 'warning', labels: { problem: 'x' } },
        [firing('r', { problem: 'x' })],
        self,
      ),
      false,
    );
    assert.equal(
      isInhibited(
        { ruleId: 'r', severity: 'warning', labels: { problem: 'x', node: 'pg2' } },
        [firing('r', { problem: 'x' })],
        self,
      ),
      true,
    );
  });

  test('label matchers: exact, list, "" = missing, severity', () => {
    const r = [
      rule({
        source_matchers: { severity: 'critical', component: 'patroni' },
        target_matchers: { severity: ['warning', 'info'], problem: '' },
      }),
    ];
    const src = [{ ...firing('a', { component: 'patroni' }) }];
    assert.equal(isInhibited({ ruleId: 'b', severity: 'warning', labels: {} }, src, r), true);
    assert.equal(isInhibited({ ruleId: 'b', severity: 'warning', labels: { problem: 'lag' } }, src, r), false);
    assert.equal(isInhibited({ ruleId: 'b', severity: 'critical', labels: {} }, src, r), false);
  });

  test('the config accepts inhibit rules', () => {
    const c = configSchema.parse({
      inhibit: [
        { source_matchers: { rule: 'patroni-failover' }, target_matchers: { rule: ['x', 'y'] }, equal: ['member'] },
      ],
    });
    assert.deepEqual(c.inhibit[0]!.equal, ['member']);
    assert.deepEqual(configSchema.parse({}).inhibit, []);
  });
});

describe('engine with inhibition', () => {
  test('symptoms fired during an incident are not notified; they notify if they outlive it', async () => {
    const store = new SqliteStore(':memory:');
    const inhibit = [
      rule({ source_matchers: { rule: 'patroni-failover' }, target_matchers: { rule: 'haproxy-write-backend' } }),
    ];
    const engine = new AlertEngine({
      store,
      notifiers: [],
      cluster: 'c',
      logger: silentLogger,
      failingAfterMs: 60_000,
      inhibit,
    });
    const failover = makeRule({ id: 'patroni-failover', severity: 'critical', message: 'down {{member}}' });
    const wb = makeRule({ id: 'haproxy-write-backend', severity: 'critical', message: 'no primary' });
    const t0 = Date.UTC(2026, 0, 1);
    assert.deepEqual(
      summarize(
        (await engine.apply(failover, { ok: true, findings: [finding({ member: 'pg1', event: 'primary_down' })] }, t0))
          .notifications,
      ),
      ['firing:pg1/primary_down'],
    );
    assert.deepEqual(
      summarize(
        (await engine.apply(wb, { ok: true, findings: [finding({ backend: 'pg_primary' })] }, t0 + 1000)).notifications,
      ),
      [],
    );
    // the alert is firing (state advances) but was not announced
    const [a] = await store.alertsForRule('haproxy-write-backend');
    assert.equal(a!.state, 'firing');
    assert.equal(a!.notifiedAt, undefined);
    // resolving while muted sends nothing
    assert.deepEqual(summarize((await engine.apply(wb, { ok: true, findings: [] }, t0 + 2000)).notifications), []);
    // incident over; a symptom that persists afterwards is news
    await engine.apply(failover, { ok: true, findings: [] }, t0 + 3000);
    assert.deepEqual(
      summarize(
        (await engine.apply(wb, { ok: true, findings: [finding({ backend: 'pg_primary' })] }, t0 + 4000)).notifications,
      ),
      ['firing:pg_primary'],
    );
    engine.setInhibitRules([]);
    await store.close();
  });
});

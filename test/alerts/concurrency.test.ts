import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AlertEngine, EVALUATION_FAILING_RULE_ID } from '../../src/alerts/engine.js';
import type { Notification } from '../../src/alerts/notification.js';
import { silentLogger } from '../../src/log.js';
import type { Evaluation } from '../../src/rules/rule-type.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { finding, makeRule, summarize } from '../support/builders.js';

const S = 1000;
const M = 60 * S;
const down: Evaluation = { ok: false, source: 'elasticsearch', error: 'connect ECONNREFUSED 127.0.0.1:9200' };

/**
 * Rules tick together and their evaluations finish together: the engine sees them applied
 * concurrently (Promise.all here, aligned timers in the service). Shared state — the per-source
 * evaluation-failing alert, rule health, inhibition — must come out as if applied one by one.
 */
describe('alert engine: many rules failing and recovering in the same tick', () => {
  test('23 log rules, 5 Elasticsearch outages: one page and one resolve per outage', async () => {
    const store = new SqliteStore(':memory:');
    const engine = new AlertEngine({
      store,
      notifiers: [],
      cluster: 'c',
      logger: silentLogger,
      failingAfterMs: 30 * S,
    });
    const rules = Array.from({ length: 23 }, (_, i) =>
      makeRule({ id: `log-${i}`, type: 'log_frequency', every: 10 * S }),
    );
    const t0 = Date.UTC(2026, 0, 1);
    const tick = async (at: number, ev: (i: number) => Evaluation) =>
      (await Promise.all(rules.map((r, i) => engine.apply(r, ev(i), at)))).flatMap((x) => x.notifications);
    let t = t0;
    for (let outage = 0; outage < 5; outage++) {
      const sent: Notification[] = [];
      for (let k = 0; k < 3; k++, t += 10 * S) sent.push(...(await tick(t, () => ({ ok: true, findings: [] }))));
      for (let k = 0; k < 6; k++, t += 10 * S) sent.push(...(await tick(t, () => down)));
      const failing = (await store.listAlerts(['firing'])).filter((a) => a.ruleId === EVALUATION_FAILING_RULE_ID);
      assert.equal(failing.length, 1, `outage ${outage}: the evaluation-failing alert is firing`);
      assert.equal(failing[0]!.values['rules'], 23, 'it lists every rule that cannot read the source');
      for (let k = 0; k < 3; k++, t += 10 * S) sent.push(...(await tick(t, () => ({ ok: true, findings: [] }))));
      assert.deepEqual(
        summarize(sent.filter((n) => n.rule.id === EVALUATION_FAILING_RULE_ID)),
        ['firing:elasticsearch', 'resolved:elasticsearch'],
        `outage ${outage}`,
      );
      assert.equal(
        (await store.listAlerts(['firing'])).length,
        0,
        `outage ${outage}: nothing left firing after recovery`,
      );
    }
  });

  test('rules recovering in a different order than they failed still resolve the source alert exactly once', async () => {
    const store = new SqliteStore(':memory:');
    const engine = new AlertEngine({ store, notifiers: [], cluster: 'c', logger: silentLogger, failingAfterMs: 0 });
    const rules = Array.from({ length: 8 }, (_, i) => makeRule({ id: `r${i}` }));
    const t0 = Date.UTC(2026, 0, 1);
    const sent: Notification[] = [];
    const rec = (ns: { notifications: Notification[] }[]) => sent.push(...ns.flatMap((x) => x.notifications));
    rec(await Promise.all(rules.map((r) => engine.apply(r, down, t0))));
    // half recover at once, the other half fail again, then the rest recover together
    rec(
      await Promise.all(rules.map((r, i) => engine.apply(r, i % 2 ? { ok: true, findings: [] } : down, t0 + 10 * S))),
    );
    rec(await Promise.all(rules.map((r) => engine.apply(r, { ok: true, findings: [] }, t0 + 20 * S))));
    assert.deepEqual(summarize(sent), ['firing:elasticsearch', 'resolved:elasticsearch']);
  });

  test('findings of many rules firing and resolving together: each alert pages once and resolves once', async () => {
    const store = new SqliteStore(':memory:');
    const engine = new AlertEngine({ store, notifiers: [], cluster: 'c', logger: silentLogger, failingAfterMs: 0 });
    const rules = Array.from({ length: 20 }, (_, i) => makeRule({ id: `r${i}`, repeat: 0 }));
    const t0 = Date.UTC(2026, 0, 1);
    const sent: Notification[] = [];
    for (let round = 0; round < 4; round++) {
      const t = t0 + round * M;
      for (const ev of [['pg2'], ['pg2'], []]) {
        const at = t + (ev.length ? 0 : 20 * S) + (sent.length % 2);
        const r = await Promise.all(
          rules.map((rule) => engine.apply(rule, { ok: true, findings: ev.map((m) => finding({ member: m })) }, at)),
        );
        sent.push(...r.flatMap((x) => x.notifications));
      }
    }
    for (const rule of rules)
      assert.deepEqual(
        summarize(sent.filter((n) => n.rule.id === rule.id)),
        [
          'firing:pg2',
          'resolved:pg2',
          'firing:pg2',
          'resolved:pg2',
          'firing:pg2',
          'resolved:pg2',
          'firing:pg2',
          'resolved:pg2',
        ],
        rule.id,
      );
  });
});

describe('alert engine: retired rules', () => {
  test('a removed rule resolves its firing alerts saying why; pending ones are dropped; its failure no longer counts', async () => {
    const store = new SqliteStore(':memory:');
    const engine = new AlertEngine({ store, notifiers: [], cluster: 'c', logger: silentLogger, failingAfterMs: 0 });
    const t0 = Date.UTC(2026, 0, 1);
    const lag = makeRule({ id: 'lag', name: 'Replica lag' });
    const slow = makeRule({ id: 'slow', for: 10 * M });
    const broken = makeRule({ id: 'broken' });
    await engine.apply(lag, { ok: true, findings: [finding({ member: 'pg2' })] }, t0);
    await engine.apply(slow, { ok: true, findings: [finding({ member: 'pg3' })] }, t0);
    const failing = await engine.apply(broken, down, t0);
    assert.deepEqual(summarize(failing.notifications), ['firing:elasticsearch']);

    const out = await engine.retire(
      [
        { rule: lag, reason: 'rule removed from the rule files' },
        { rule: slow, reason: 'rule disabled' },
        { rule: broken, reason: 'rule removed from the rule files' },
      ],
      t0 + M,
    );
    assert.deepEqual(summarize(out), ['resolved:pg2', 'resolved:elasticsearch']);
    assert.equal(out[0]!.rule.name, 'Replica lag');
    assert.match(out[0]!.alerts[0]!.message, /^no longer evaluated: rule removed from the rule files \(last: /);
    assert.deepEqual(
      (await store.listAlerts(['pending', 'firing'])).map((a) => a.ruleId),
      [],
    );
    assert.deepEqual(
      (await store.ruleHealth()).map((h) => h.ruleId),
      [],
    );
  });
});

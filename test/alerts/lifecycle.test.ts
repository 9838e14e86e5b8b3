import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AlertEngine, EVALUATION_FAILING_RULE_ID } from '../../src/alerts/engine.js';
import { silentLogger } from '../../src/log.js';
import type { Evaluation, Rule } from '../../src/rules/rule-type.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { finding, makeRule, summarize } from '../support/builders.js';

const S = 1000;
const M = 60 * S;

type Step = { at: number; ev: Evaluation | string[]; expect: string[]; do?: (s: SqliteStore) => Promise<void> };

/** Runs evaluations at controlled times; `string[]` = findings for those members, `fail` = source error. */
async function play(rule: Rule, steps: Step[]) {
  const store = new SqliteStore(':memory:');
  const engine = new AlertEngine({ store, notifiers: [], cluster: 'c1', logger: silentLogger, failingAfterMs: 2 * M });
  const t0 = Date.UTC(2026, 0, 1);
  for (const [i, s] of steps.entries()) {
    await s.do?.(store);
    const ev: Evaluation = Array.isArray(s.ev)
      ? { ok: true, findings: s.ev.map((m) => finding({ member: m }, { lag: '2MB' })) }
      : s.ev;
    const r = await engine.apply(rule, ev, t0 + s.at);
    assert.deepEqual(summarize(r.notifications), s.expect, `step ${i} at +${s.at / S}s`);
  }
  return store;
}

const fail: Evaluation = { ok: false, source: 'patroni', error: 'connection refused' };

describe('alert lifecycle (controllable clock)', () => {
  const cases: { name: string; rule: Partial<Rule>; steps: Step[] }[] = [
    {
      name: 'pending for `for`, then fires once, repeats on cadence, resolves once',
      rule: { for: 30 * S, repeat: 10 * M },
      steps: [
        { at: 0, ev: ['pg2'], expect: [] },
        { at: 10 * S, ev: ['pg2'], expect: [] },
        { at: 30 * S, ev: ['pg2'], expect: ['firing:pg2'] },
        { at: 40 * S, ev: ['pg2'], expect: [] },
        { at: 10 * M + 29 * S, ev: ['pg2'], expect: [] },
        { at: 10 * M + 30 * S, ev: ['pg2'], expect: ['firing(repeat):pg2'] },
        { at: 11 * M, ev: [], expect: ['resolved:pg2'] },
        { at: 12 * M, ev: [], expect: [] },
      ],
    },
    {
      name: 'a condition that clears while pending never notifies',
      rule: { for: 30 * S },
      steps: [
        { at: 0, ev: ['pg2'], expect: [] },
        { at: 20 * S, ev: [], expect: [] },
        { at: 40 * S, ev: ['pg2'], expect: [] },
        { at: 60 * S, ev: ['pg2'], expect: [] },
        { at: 70 * S, ev: ['pg2'], expect: ['firing:pg2'] },
      ],
    },
    {
      name: 'flapping condition with keep_firing_for: one firing, one resolve',
      rule: { keepFiringFor: 60 * S },
      steps: [
        { at: 0, ev: ['pg2'], expect: ['firing:pg2'] },
        { at: 10 * S, ev: [], expect: [] },
        { at: 20 * S, ev: ['pg2'], expect: [] },
        { at: 30 * S, ev: [], expect: [] },
        { at: 40 * S, ev: ['pg2'], expect: [] },
        { at: 50 * S, ev: [], expect: [] },
        { at: 90 * S, ev: [], expect: [] },
        { at: 110 * S, ev: [], expect: ['resolved:pg2'] },
      ],
    },
    {
      name: 'findings of one evaluation are grouped: three lagging replicas = one message',
      rule: {},
      steps: [
        { at: 0, ev: ['pg1', 'pg2', 'pg3'], expect: ['firing:pg1,pg2,pg3'] },
        { at: 10 * S, ev: ['pg1'], expect: ['resolved:pg2,pg3'] },
        { at: 20 * S, ev: ['pg1', 'pg2'], expect: ['firing:pg2'] },
        { at: 30 * S, ev: [], expect: ['resolved:pg1,pg2'] },
      ],
    },
    {
      name: 'a failed source never resolves: unknown is not OK',
      rule: {},
      steps: [
        { at: 0, ev: ['pg2'], expect: ['firing:pg2'] },
        { at: 10 * S, ev: fail, expect: [] },
        { at: 20 * S, ev: fail, expect: [] },
        { at: 30 * S, ev: ['pg2'], expect: [] },
        { at: 40 * S, ev: [], expect: ['resolved:pg2'] },
      ],
    },
    {
      name: 'a source failing longer than failing_source_after raises and resolves its own alert',
      rule: {},
      steps: [
        { at: 0, ev: fail, expect: [] },
        { at: 1 * M, ev: fail, expect: [] },
        { at: 2 * M, ev: fail, expect: ['firing:patroni'] },
        { at: 3 * M, ev: [], expect: ['resolved:patroni'] },
      ],
    },
    {
      // Reminders count from the last notification, not the first: a cadence counted from the first
      // one re-pages on every tick after the first reminder.
      name: 'repeat cadence holds over three reminders, ticks between them stay quiet',
      rule: { repeat: 10 * M },
      steps: [
        { at: 0, ev: ['pg2'], expect: ['firing:pg2'] },
        { at: 10 * M, ev: ['pg2'], expect: ['firing(repeat):pg2'] },
        { at: 10 * M + 30 * S, ev: ['pg2'], expect: [] },
        { at: 19 * M + 59 * S, ev: ['pg2'], expect: [] },
        { at: 20 * M, ev: ['pg2'], expect: ['firing(repeat):pg2'] },
        { at: 20 * M + 30 * S, ev: ['pg2'], expect: [] },
        { at: 25 * M, ev: ['pg2'], expect: [] },
        { at: 30 * M, ev: ['pg2'], expect: ['firing(repeat):pg2'] },
        { at: 31 * M, ev: ['pg2'], expect: [] },
        { at: 32 * M, ev: [], expect: ['resolved:pg2'] },
      ],
    },
    {
      name: 'a late tick reminds once and the cadence restarts from that reminder',
      rule: { repeat: 10 * M },
      steps: [
        { at: 0, ev: ['pg2'], expect: ['firing:pg2'] },
        { at: 13 * M, ev: ['pg2'], expect: ['firing(repeat):pg2'] },
        { at: 20 * M, ev: ['pg2'], expect: [] },
        { at: 23 * M, ev: ['pg2'], expect: ['firing(repeat):pg2'] },
      ],
    },
    {
      // keep_firing_for bridges the gap: the flap is invisible and the reminder keeps its cadence.
      name: 'flapping across a repeat boundary: no resolve, no extra page, the reminder stays on cadence',
      rule: { repeat: 10 * M, keepFiringFor: 2 * M },
      steps: [
        { at: 0, ev: ['pg2'], expect: ['firing:pg2'] },
        { at: 9 * M, ev: ['pg2'], expect: [] },
        { at: 9 * M + 30 * S, ev: [], expect: [] },
        { at: 10 * M, ev: [], expect: [] },
        { at: 10 * M + 30 * S, ev: ['pg2'], expect: ['firing(repeat):pg2'] },
        { at: 11 * M, ev: [], expect: [] },
        { at: 12 * M, ev: ['pg2'], expect: [] },
        { at: 20 * M, ev: ['pg2'], expect: [] },
        { at: 20 * M + 30 * S, ev: ['pg2'], expect: ['firing(repeat):pg2'] },
      ],
    },
    {
      name: 'an ack stops every later reminder of that episode',
      rule: { repeat: 5 * M },
      steps: [
        { at: 0, ev: ['pg2'], expect: ['firing:pg2'] },
        {
          at: 1 * M,
          ev: ['pg2'],
          expect: [],
          do: async (s) => void (await s.ack((await s.listAlerts(['firing']))[0]!.fingerprint, 'alice', Date.now())),
        },
        { at: 5 * M, ev: ['pg2'], expect: [] },
        { at: 10 * M, ev: ['pg2'], expect: [] },
        { at: 15 * M, ev: ['pg2'], expect: [] },
        { at: 16 * M, ev: [], expect: ['resolved:pg2'] },
      ],
    },
    {
      name: 'repeat 0 never repeats',
      rule: { repeat: 0 },
      steps: [
        { at: 0, ev: ['pg2'], expect: ['firing:pg2'] },
        { at: 24 * 60 * M, ev: ['pg2'], expect: [] },
      ],
    },
    {
      name: 'an acked alert stops repeating but still resolves; the next episode is announced again',
      rule: { repeat: 1 * M },
      steps: [
        { at: 0, ev: ['pg2'], expect: ['firing:pg2'] },
        { at: 1 * M, ev: ['pg2'], expect: ['firing(repeat):pg2'] },
        {
          at: 90 * S,
          ev: ['pg2'],
          expect: [],
          do: async (s) => void (await s.ack((await s.listAlerts(['firing']))[0]!.fingerprint, 'alice', Date.now())),
        },
        { at: 5 * M, ev: ['pg2'], expect: [] },
        { at: 6 * M, ev: [], expect: ['resolved:pg2'] },
        { at: 7 * M, ev: ['pg2'], expect: ['firing:pg2'] },
        { at: 8 * M, ev: ['pg2'], expect: ['firing(repeat):pg2'] },
      ],
    },
  ];

  for (const c of cases) test(c.name, async () => void (await play(makeRule(c.rule), c.steps)));

  test('silences withhold notifications; when the silence ends a still-firing alert is announced', async () => {
    const t0 = Date.UTC(2026, 0, 1);
    await play(makeRule({ repeat: 10 * M }), [
      {
        at: 0,
        ev: ['pg2', 'pg3'],
        expect: ['firing:pg3'],
        do: async (s) =>
          s.addSilence({
            id: 's1',
            ruleId: 'replica-lag',
            matchers: { member: 'pg2' },
            startsAt: t0,
            endsAt: t0 + 5 * M,
            author: 'alice',
            reason: 'maintenance',
            createdAt: t0,
          }),
      },
      { at: 1 * M, ev: ['pg2', 'pg3'], expect: [] },
      { at: 5 * M, ev: ['pg2', 'pg3'], expect: ['firing:pg2'] },
      { at: 10 * M, ev: ['pg2', 'pg3'], expect: ['firing(repeat):pg3'] },
    ]);
  });

  test('a silenced alert that resolves sends no resolve; a silence on another rule does not match', async () => {
    const t0 = Date.UTC(2026, 0, 1);
    await play(makeRule(), [
      { at: 0, ev: ['pg2'], expect: ['firing:pg2'] },
      {
        at: 10 * S,
        ev: [],
        expect: [],
        do: async (s) =>
          s.addSilence({
            id: 's1',
            matchers: { member: 'pg2' },
            startsAt: t0,
            endsAt: t0 + M,
            author: 'a',
            reason: 'r',
            createdAt: t0,
          }),
      },
      {
        at: 2 * M,
        ev: ['pg2'],
        expect: ['firing:pg2'],
        do: async (s) =>
          s.addSilence({
            id: 's2',
            ruleId: 'other-rule',
            matchers: {},
            startsAt: t0,
            endsAt: t0 + 10 * M,
            author: 'a',
            reason: 'r',
            createdAt: t0,
          }),
      },
    ]);
  });

  test('messages are rendered from the template, and state is kept per fingerprint', async () => {
    const store = await play(makeRule({ labels: { team: 'dba' } }), [
      { at: 0, ev: ['pg2'], expect: ['firing:dba/pg2'] },
    ]);
    const [a] = await store.listAlerts(['firing']);
    assert.equal(a?.message, 'pg2 lags 2MB');
    assert.deepEqual(a?.labels, { team: 'dba', member: 'pg2' });
    assert.equal(a?.shortId.length, 6);
    const history = await store.history(10);
    assert.deepEqual(
      history.map((h) => `${h.from}->${h.to}`),
      ['pending->firing'],
    );
    assert.ok(!(await store.listAlerts()).some((x) => x.ruleId === EVALUATION_FAILING_RULE_ID));
  });

  test('rules failing on the same source are one "evaluation failing" alert, resolved when the last recovers', async () => {
    const store = new SqliteStore(':memory:');
    const engine = new AlertEngine({
      store,
      notifiers: [],
      cluster: 'c1',
      logger: silentLogger,
      failingAfterMs: 1 * M,
    });
    const t0 = Date.UTC(2026, 0, 1);
    const [a, b] = [makeRule({ id: 'log-a' }), makeRule({ id: 'log-b' })];
    const es: Evaluation = { ok: false, source: 'elasticsearch', error: 'unreachable: connect ECONNREFUSED' };
    const sent: string[] = [];
    const run = async (rule: Rule, ev: Evaluation, at: number) =>
      sent.push(...summarize((await engine.apply(rule, ev, t0 + at)).notifications));
    await run(a, es, 0);
    await run(b, es, 0);
    await run(a, es, 1 * M);
    await run(b, es, 1 * M);
    assert.deepEqual(sent, ['firing:elasticsearch']);
    const [alert] = await store.listAlerts(['firing']);
    assert.equal(
      alert?.message,
      '2 rule(s) cannot read elasticsearch: unreachable: connect ECONNREFUSED — log-a, log-b',
    );
    await run(a, { ok: true, findings: [] }, 2 * M);
    await run(b, es, 2 * M);
    assert.deepEqual(sent, ['firing:elasticsearch'], 'still failing while one rule cannot read the source');
    await run(b, { ok: true, findings: [] }, 3 * M);
    assert.deepEqual(sent, ['firing:elasticsearch', 'resolved:elasticsearch']);
    await store.close();
  });
});

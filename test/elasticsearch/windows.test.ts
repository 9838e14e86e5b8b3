import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { MIN, T0, isoAt, odooDoc, ranges, startHarness, type Harness } from './harness.js';

const S = 1000;
const INDEX = 'logs-odoo.app-default';

describe('log_any: contiguous slices across ticks, ingest delay, restart', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    h.es.createIndex(INDEX);
  });
  after(async () => h.close());

  it('first run covers one window ending at now − ingest_delay; next ticks start where the last ended', async () => {
    const rule = h.rule({ type: 'log_any', query: 'log.level:ERROR', window: '5m', every: '30s' });
    // A line inside the first window, one that is younger than the ingest delay at the first tick.
    h.es.indexDocs(INDEX, [odooDoc(T0 - 2 * MIN), odooDoc(T0 - 10 * S, { message: 'late line' })]);
    const t1 = await h.tick(rule, T0);
    assert.equal(t1.ev.ok, true);
    assert.deepEqual(t1.firing, ['-']);
    assert.deepEqual(ranges(h.msearches().at(-1)), [[isoAt(T0 - 30 * S - 5 * MIN), isoAt(T0 - 30 * S)]]);
    assert.equal(t1.ev.ok && t1.ev.findings[0]!.values['count'], 1);

    // 30 s later: slice [T0−30s, T0) — the late line is counted now, exactly once.
    const t2 = await h.tick(rule, T0 + 30 * S);
    assert.deepEqual(ranges(h.msearches().at(-1)), [[isoAt(T0 - 30 * S), isoAt(T0)]]);
    assert.equal(t2.ev.ok && t2.ev.findings.length, 1);
    assert.match(String(t2.ev.ok && t2.ev.findings[0]!.samples?.[0]), /late line/);
    assert.equal(t2.firing.length, 0, 'still firing: no new notification');

    // Nothing new: resolves.
    const t3 = await h.tick(rule, T0 + 60 * S);
    assert.deepEqual(ranges(h.msearches().at(-1)), [[isoAt(T0), isoAt(T0 + 30 * S)]]);
    assert.deepEqual(t3.resolved, ['-']);
  });

  it('a restart resumes from the committed cursor (no gap, no re-count)', async () => {
    const store = h.store;
    const rule = h.rule({ id: 'r2', type: 'log_any', query: 'log.level:ERROR', window: '5m' });
    await h.tick(rule, T0 + 10 * MIN);
    // "Restart": a fresh harness with the same store; the rule was last evaluated at T0+10m.
    const h2 = await startHarness({ store });
    h2.es.createIndex(INDEX);
    try {
      await h2.tick(rule, T0 + 12 * MIN);
      assert.deepEqual(ranges(h2.msearches().at(-1)), [[isoAt(T0 + 10 * MIN - 30 * S), isoAt(T0 + 12 * MIN - 30 * S)]]);
    } finally {
      await h2.close();
    }
  });

  it('after downtime longer than max_catch_up, only max_catch_up is queried', async () => {
    const rule = h.rule({ id: 'r3', type: 'log_any', query: 'log.level:ERROR', window: '5m' });
    await h.tick(rule, T0);
    await h.tick(rule, T0 + 5 * 3_600_000);
    assert.deepEqual(ranges(h.msearches().at(-1)), [
      [isoAt(T0 + 4 * 3_600_000 - 30 * S), isoAt(T0 + 5 * 3_600_000 - 30 * S)],
    ]);
  });

  it('a per-rule ingest_delay overrides the source default', async () => {
    const rule = h.rule({ id: 'r4', type: 'log_any', query: 'log.level:ERROR', window: '1m', ingest_delay: '2m' });
    await h.tick(rule, T0);
    assert.deepEqual(ranges(h.msearches().at(-1)), [[isoAt(T0 - 3 * MIN), isoAt(T0 - 2 * MIN)]]);
  });

  it('a crash between query and commit re-queries the same slice', async () => {
    const store = new SqliteStore(':memory:');
    const h3 = await startHarness({ store });
    h3.es.createIndex(INDEX);
    try {
      const rule = h3.rule({ id: 'r5', type: 'log_any', window: '5m' });
      await h3.tick(rule, T0);
      // Evaluate without applying (the process died before the commit) …
      const { evaluateRule } = await import('../../src/scheduler.js');
      const { createRegistry } = await import('../../src/rules/registry.js');
      const { silentLogger } = await import('../../src/log.js');
      await evaluateRule(
        rule,
        { registry: createRegistry(), sources: h3.sources, logger: silentLogger, store },
        new Date(T0 + 30 * S),
      );
      // … so the next tick starts at the last committed end again.
      await h3.tick(rule, T0 + 60 * S);
      assert.deepEqual(ranges(h3.msearches().at(-1)), [[isoAt(T0 - 30 * S), isoAt(T0 + 30 * S)]]);
    } finally {
      await h3.close();
    }
  });
});

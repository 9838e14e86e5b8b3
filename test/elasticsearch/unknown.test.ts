/** Unknown is not OK: answers that lack what was asked for, or name no index, freeze log alerts. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EVALUATION_FAILING_RULE_ID } from '../../src/alerts/engine.js';
import { MIN, T0, odooDoc, startHarness, type Harness } from './harness.js';
import type { JsonObject } from '../support/fake-elasticsearch.js';

const S = 1000;
const ODOO = 'logs-odoo.app-default';

describe('a response without the aggregations asked for is a failed evaluation, never "0 matches"', () => {
  let h: Harness;
  let strip = false;
  before(async () => {
    // A proxy / version mismatch that drops `aggregations` (hits are intact, HTTP 200).
    h = await startHarness({
      fake: {
        now: () => T0,
        search: () => (strip ? { hits: { total: { value: 0, relation: 'eq' }, hits: [] } } : undefined),
      },
    });
    h.es.createIndex(ODOO);
  });
  after(async () => h.close());

  it('log_flatline does not fire on a missing aggregation', async () => {
    h.es.indexDocs(ODOO, [odooDoc(T0 - 2 * MIN)]);
    const rule = h.rule({
      id: 'flat',
      type: 'log_flatline',
      window: '5m',
      group_by: ['host.name'],
      expected: ['odoo1'],
    });
    const t1 = await h.tick(rule, T0);
    assert.equal(t1.ev.ok, true);
    assert.deepEqual(t1.firing, []);
    strip = true;
    try {
      const t2 = await h.tick(rule, T0 + 30 * S);
      assert.equal(t2.ev.ok, false);
      assert.match(
        t2.ev.ok ? '' : t2.ev.error,
        /^malformed: search on logs-odoo\.app-\*: response lacks aggregations\.g0/,
      );
      assert.deepEqual(t2.firing, []);
      assert.equal((await h.store.alertsForRule(rule.id)).length, 0);
    } finally {
      strip = false;
    }
  });

  it('a grouped log_any that fires is not resolved by a response without its aggregations', async () => {
    const rule = h.rule({ id: 'any', type: 'log_any', window: '5m', group_by: ['odoo.db'] });
    const t1 = await h.tick(rule, T0);
    assert.deepEqual(t1.firing, ['prod']);
    strip = true;
    try {
      const t2 = await h.tick(rule, T0 + 30 * S);
      assert.equal(t2.ev.ok, false);
      assert.deepEqual(t2.resolved, []);
      assert.deepEqual(
        (await h.store.alertsForRule(rule.id)).map((a) => a.state),
        ['firing'],
      );
    } finally {
      strip = false;
    }
  });

  it('a sub-aggregation missing inside a bucket is caught too', async () => {
    const { missingAggregations } = await import('../../src/sources/elasticsearch/msearch-batcher.js');
    const asked = { g0: { terms: { field: 'host.name' }, aggs: { cur: { filter: {} } } } };
    assert.deepEqual(
      missingAggregations(asked, { g0: { buckets: [{ key: 'odoo1', doc_count: 1, cur: { doc_count: 1 } }] } }),
      [],
    );
    assert.deepEqual(missingAggregations(asked, { g0: { buckets: [{ key: 'odoo1', doc_count: 1 }] } }), [
      'aggregations.g0.cur',
    ]);
    assert.deepEqual(missingAggregations(asked, undefined), ['aggregations.g0']);
  });
});

describe('before any index exists (allow_no_indices=false, as the client sends it)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  it('the client asks for allow_no_indices=false and ignore_unavailable=false on every item', async () => {
    const rule = h.rule({ id: 'hdr', type: 'log_any', window: '5m' });
    await h.tick(rule, T0);
    const header = h.msearches().at(-1)![0] as JsonObject;
    assert.equal(header['allow_no_indices'], false);
    assert.equal(header['ignore_unavailable'], false);
  });

  for (const [type, extra] of [
    ['log_any', {}],
    ['log_flatline', { group_by: ['host.name'], expected: ['odoo1'] }],
    ['log_frequency', { threshold: 1 }],
    ['log_spike', { spike_height: 2, direction: 'down' }],
    ['log_new_value', { field: 'error.type' }],
    ['log_cron_overlap', {}],
  ] as const) {
    it(`${type}: "no index matches logs-odoo.app-* yet" is unknown, not a page and not all-clear`, async () => {
      const rule = h.rule({ id: `noidx-${type}`, type, window: '5m', ...extra });
      const t = await h.tick(rule, T0 + MIN);
      assert.equal(t.ev.ok, false);
      assert.match(
        t.ev.ok ? '' : t.ev.error,
        /index_not_found_exception: no such index \[logs-odoo\.app-\*\] — no index matches logs-odoo\.app-\* yet/,
      );
      assert.deepEqual(t.firing, []);
      assert.equal((await h.store.alertsForRule(rule.id)).length, 0);
      const failing = (await h.store.alertsForRule(EVALUATION_FAILING_RULE_ID)).filter(
        (a) => a.labels['source'] === 'elasticsearch',
      );
      assert.equal(failing.length, 1, 'surfaced once, as the source meta-alert');
    });
  }
});

describe('the loopback Elasticsearch resolves index expressions as ES does', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  const search = async (path: string, body: string, contentType = 'application/json') => {
    const r = await fetch(`${h.es.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });
    return { status: r.status, body: (await r.json()) as JsonObject };
  };

  it('_search: a wildcard matching nothing is empty by default, a 404 with allow_no_indices=false', async () => {
    assert.equal((await search('/nothing-*/_search', '{}')).status, 200);
    const r = await search('/nothing-*/_search?allow_no_indices=false', '{}');
    assert.equal(r.status, 404);
    assert.equal((r.body['error'] as JsonObject)['type'], 'index_not_found_exception');
  });

  it('_msearch: per-item 404 with allow_no_indices=false in the header; other items still answer', async () => {
    h.es.createIndex('there-1');
    const lines = [
      { index: 'nothing-*', allow_no_indices: false },
      {},
      { index: 'there-*', allow_no_indices: false },
      {},
      { index: 'nothing-*' },
      {},
    ];
    const r = await search('/_msearch', `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`, 'application/x-ndjson');
    const items = r.body['responses'] as JsonObject[];
    assert.equal(items[0]!['status'], 404);
    assert.equal((items[0]!['error'] as JsonObject)['reason'], 'no such index [nothing-*]');
    assert.equal(items[1]!['status'], 200);
    assert.equal(items[2]!['status'], 200);
  });

  it('a missing concrete index is 404 unless ignore_unavailable; with it and allow_no_indices=false, still 404 when nothing is left', async () => {
    assert.equal((await search('/gone/_search', '{}')).status, 404);
    assert.equal((await search('/gone/_search?ignore_unavailable=true', '{}')).status, 200);
    assert.equal((await search('/gone/_search?ignore_unavailable=true&allow_no_indices=false', '{}')).status, 404);
  });
});

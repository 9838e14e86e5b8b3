import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import { EVALUATION_FAILING_RULE_ID } from '../../src/alerts/engine.js';
import { configSchema } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { createRegistry } from '../../src/rules/registry.js';
import { Scheduler, evaluateRule } from '../../src/scheduler.js';
import { clientOptions, createElasticsearchSource } from '../../src/sources/elasticsearch/client.js';
import { indexNotFound, startFakeElasticsearch } from '../support/fake-elasticsearch.js';
import { MIN, T0, odooDoc, startHarness, type Harness } from './harness.js';

const S = 1000;
const ODOO = 'logs-odoo.app-default';

describe('msearch batching and the compatible-with header', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    h.es.createIndex(ODOO);
    h.es.createIndex('logs-patroni.log-default');
  });
  after(async () => h.close());

  it('N rules due in one tick → one _msearch with N items, each answer routed to its rule', async () => {
    h.es.indexDocs(ODOO, [
      odooDoc(T0 - 2 * MIN, { message: 'alpha' }),
      odooDoc(T0 - 2 * MIN, { message: 'beta' }),
      odooDoc(T0 - 2 * MIN, { message: 'beta' }),
    ]);
    const rules = [
      h.rule({ id: 'a', type: 'log_any', query: 'message:alpha' }),
      h.rule({ id: 'b', type: 'log_frequency', query: 'message:beta', threshold: 2 }),
      h.rule({ id: 'c', type: 'log_any', index: 'patroni', query: 'message:nothing' }),
    ];
    const before = h.es.requests.length;
    const evs = await Promise.all(
      rules.map((r) =>
        evaluateRule(
          r,
          { registry: createRegistry(), sources: h.sources, logger: silentLogger, store: h.store },
          new Date(T0),
        ),
      ),
    );
    const sent = h.es.requests.slice(before).filter((r) => r.path !== '/'); // the one-time version probe (server_major auto)
    assert.deepEqual(
      sent.map((r) => r.path),
      ['/_msearch'],
    );
    const lines = sent[0]!.body as Record<string, unknown>[];
    assert.equal(lines.length, 6);
    assert.deepEqual(
      lines.filter((_, i) => i % 2 === 0).map((l) => l['index']),
      ['logs-odoo.app-*', 'logs-odoo.app-*', 'logs-patroni.log-*'],
    );
    assert.equal(lines[0]!['allow_no_indices'], false);
    assert.deepEqual(
      evs.map((e) => e.ok && e.findings.map((f) => f.values['count'])),
      [[1], [2], []],
    );
  });

  it('the scheduler aligns Elasticsearch rules to the clock so they share one _msearch', async () => {
    const rules = [
      h.rule({ id: 's1', type: 'log_any', every: '1s' }, { every: 1000 }),
      h.rule({ id: 's2', type: 'log_any', every: '1s' }, { every: 1000 }),
    ];
    const sched = new Scheduler({
      engine: h.engine,
      registry: createRegistry(),
      sources: h.sources,
      store: h.store,
      logger: silentLogger,
    });
    const before = h.es.requestsTo('/_msearch').length;
    sched.start(rules);
    const deadline = Date.now() + 3000;
    while (h.es.requestsTo('/_msearch').length === before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    await sched.stop(2000);
    const batches = h.es.requestsTo('/_msearch').slice(before);
    assert.ok(batches.length >= 1);
    assert.equal((batches[0]!.body as unknown[]).length, 4, 'both rules in the first _msearch');
  });

  it('default (server_major auto) against a 9.x server announces compatible-with=9 on accept and the NDJSON content type', () => {
    const r = h.es.requestsTo('/_msearch').at(-1)!;
    assert.match(String(r.headers['accept']), /compatible-with=9/);
    assert.equal(r.headers['content-type'], 'application/vnd.elasticsearch+x-ndjson; compatible-with=9');
    assert.equal(r.headers['x-elastic-product'], undefined);
  });

  for (const [major, serverVersion, ok] of [
    [9, '8.17.0', false],
    [8, '8.17.0', true],
    [8, '9.1.0', true],
    [9, '9.1.0', true],
  ] as const) {
    it(`server_major ${major} against an ES ${serverVersion} server: ${ok ? 'accepted' : 'rejected (400 media_type_header_exception)'}`, async () => {
      const fake = await startFakeElasticsearch({ version: serverVersion, now: () => T0 });
      fake.createIndex(ODOO);
      const cfg = configSchema.parse({ sources: { elasticsearch: { nodes: [fake.url], server_major: major } } }).sources
        .elasticsearch!;
      const src = createElasticsearchSource(cfg, silentLogger);
      try {
        const r = await src.search({
          index: 'logs-odoo.app-*',
          body: { size: 0, track_total_hits: true, query: { match_all: {} } },
        });
        assert.equal(r.ok, ok, JSON.stringify(r));
        if (!r.ok) assert.match(r.error.message, /media_type_header_exception/);
        const req = fake.requestsTo('/_msearch')[0]!;
        assert.match(String(req.headers['accept']), new RegExp(`compatible-with=${major}`));
        assert.match(
          String(req.headers['content-type']),
          new RegExp(`^application/vnd\\.elasticsearch\\+x-ndjson; compatible-with=${major}$`),
        );
      } finally {
        await src.close();
        await fake.close();
      }
    });
  }

  for (const [serverVersion, expected] of [
    ['8.15.3', 8],
    ['9.1.0', 9],
  ] as const) {
    it(`server_major auto against ES ${serverVersion} (security on): asks GET / once with plain JSON, then announces compatible-with=${expected}`, async () => {
      const fake = await startFakeElasticsearch({ version: serverVersion, now: () => T0, users: { elastic: 'pw' } });
      fake.createIndex(ODOO);
      const cfg = configSchema.parse({
        sources: { elasticsearch: { nodes: [fake.url], username: 'elastic', password: 'pw' } },
      }).sources.elasticsearch!;
      assert.equal(cfg.server_major, 'auto');
      const src = createElasticsearchSource(cfg, silentLogger);
      try {
        const body = { size: 0, track_total_hits: true, query: { match_all: {} } };
        const rs = await Promise.all([src.search({ index: ODOO, body }), src.search({ index: ODOO, body })]);
        rs.push(await src.search({ index: ODOO, body }));
        for (const r of rs) assert.equal(r.ok, true, JSON.stringify(r));
        const probes = fake.requestsTo('/').filter((r) => r.method === 'GET');
        assert.equal(probes.length, 1, 'the version is asked once');
        assert.equal(probes[0]!.headers['accept'], 'application/json');
        for (const req of fake.requestsTo('/_msearch'))
          assert.match(String(req.headers['content-type']), new RegExp(`compatible-with=${expected}$`));
      } finally {
        await src.close();
        await fake.close();
      }
    });
  }

  it('server_major auto: after a 400 media_type_header_exception (cluster rolled back 9 → 8) it asks again and the search succeeds', async () => {
    const fake = await startFakeElasticsearch({ version: '9.1.0', now: () => T0 });
    fake.createIndex(ODOO);
    const cfg = configSchema.parse({ sources: { elasticsearch: { nodes: [fake.url] } } }).sources.elasticsearch!;
    const src = createElasticsearchSource(cfg, silentLogger);
    try {
      const body = { size: 0, track_total_hits: true };
      assert.equal((await src.search({ index: ODOO, body })).ok, true);
      fake.setVersion('8.17.0');
      const r = await src.search({ index: ODOO, body });
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(fake.requestsTo('/').filter((x) => x.method === 'GET').length, 2);
      assert.match(String(fake.requestsTo('/_msearch').at(-1)!.headers['content-type']), /compatible-with=8$/);
    } finally {
      await src.close();
      await fake.close();
    }
  });

  it('server_major auto: a failed version probe is a failed search saying so, and the next search asks again', async () => {
    const fake = await startFakeElasticsearch({ version: '8.15.3', now: () => T0, users: { elastic: 'pw' } });
    fake.createIndex(ODOO);
    const cfg = configSchema.parse({
      sources: { elasticsearch: { nodes: [fake.url], username: 'elastic', password: 'wrong' } },
    }).sources.elasticsearch!;
    const src = createElasticsearchSource(cfg, silentLogger);
    try {
      const r = await src.search({ index: ODOO, body: { size: 0 } });
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.error.kind, 'auth');
        assert.match(r.error.message, /^asking Elasticsearch its version \(GET \/\): HTTP 401 security_exception/);
      }
      await src.search({ index: ODOO, body: { size: 0 } });
      assert.equal(fake.requestsTo('/').length, 2);
      assert.equal(fake.requestsTo('/_msearch').length, 0);
    } finally {
      await src.close();
      await fake.close();
    }
  });

  it('an explicit server_major wins: no version probe', async () => {
    const fake = await startFakeElasticsearch({ version: '9.1.0', now: () => T0 });
    fake.createIndex(ODOO);
    const cfg = configSchema.parse({ sources: { elasticsearch: { nodes: [fake.url], server_major: 8 } } }).sources
      .elasticsearch!;
    const src = createElasticsearchSource(cfg, silentLogger);
    try {
      assert.equal((await src.search({ index: ODOO, body: { size: 0 } })).ok, true);
      assert.equal(fake.requestsTo('/').length, 0);
      assert.match(String(fake.requestsTo('/_msearch')[0]!.headers['content-type']), /compatible-with=8$/);
    } finally {
      await src.close();
      await fake.close();
    }
  });

  it('basic auth and API key reach the server as Authorization headers', async () => {
    const fake = await startFakeElasticsearch({ now: () => T0 });
    fake.createIndex(ODOO);
    try {
      for (const [es, expected] of [
        [{ username: 'watch', password: 's3cret' }, `Basic ${Buffer.from('watch:s3cret').toString('base64')}`],
        [{ api_key: 'aWQ6a2V5' }, 'ApiKey aWQ6a2V5'],
      ] as const) {
        const cfg = configSchema.parse({ sources: { elasticsearch: { nodes: [fake.url], ...es } } }).sources
          .elasticsearch!;
        const src = createElasticsearchSource(cfg, silentLogger);
        await src.search({ index: ODOO, body: { size: 0, track_total_hits: true } });
        await src.close();
        assert.equal(fake.requests.at(-1)!.headers['authorization'], expected);
      }
    } finally {
      await fake.close();
    }
  });

  it('ca_file is read and handed to TLS', () => {
    const cfg = configSchema.parse({
      sources: { elasticsearch: { nodes: ['https://es.example:9200'], ca_file: '/etc/ohw/ca.pem' } },
    }).sources.elasticsearch!;
    const o = clientOptions(cfg, 9, (p) => `PEM from ${p}`);
    assert.deepEqual(o.tls, { ca: 'PEM from /etc/ohw/ca.pem', rejectUnauthorized: true });
    assert.doesNotThrow(() => new Client(o).close());
  });

  it('api_key together with username is a config error', () => {
    const r = configSchema.safeParse({
      sources: { elasticsearch: { nodes: ['http://127.0.0.1:9200'], api_key: 'x', username: 'u', password: 'p' } },
    });
    assert.equal(r.success, false);
  });
});

describe('every error path is ok:false, freezes log alerts and raises the evaluation-failing alert', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    h.es.createIndex(ODOO);
    h.es.indexDocs(
      ODOO,
      [0, 1, 2].map((i) => odooDoc(T0 - 2 * MIN + i * S)),
    );
  });
  afterEach(() => h.es.clearFaults());
  after(async () => h.close());

  const cases: [string, (h: Harness) => void, RegExp][] = [
    ['401 unauthorized', (x) => x.es.fail({ status: 401 }), /^auth: HTTP 401 security_exception/],
    ['403 forbidden', (x) => x.es.fail({ status: 403 }), /^auth: HTTP 403/],
    [
      'missing index (per-item 404)',
      (x) => x.es.deleteIndex(ODOO),
      /^query_failed: search on logs-odoo.app-default: HTTP 404 index_not_found_exception/,
    ],
    ['request timeout', (x) => x.es.delay(2500, 1), /^timeout: /],
    ['shard failures', (x) => x.es.shardFailures(1, { total: 3 }), /^query_failed: .*1 of 3 shards failed/],
    ['timed_out partial results', (x) => x.es.timedOut(), /^timeout: search on .* timed out/],
    ['malformed: no responses[]', (x) => x.es.malformed(), /^malformed: _msearch returned no responses/],
    ['malformed: wrong content type', (x) => x.es.wrongContentType(), /^malformed: /],
    ['missing x-elastic-product', (x) => x.es.dropProductHeader(), /^malformed: .*x-elastic-product/],
    ['500 server error', (x) => x.es.fail({ status: 500 }), /^http_status: HTTP 500/],
    ['connection dropped', (x) => x.es.disconnect(2), /^unreachable: /],
  ];

  cases.forEach(([name, inject, error], i) => {
    it(name, async () => {
      h.es.createIndex(ODOO);
      h.es.indexDocs(
        ODOO,
        [0, 1, 2].map((k) => odooDoc(T0 + i * MIN - 2 * MIN + k * S)),
      );
      const rule = h.rule({
        id: `err-${i}`,
        type: 'log_frequency',
        index: name.startsWith('missing index') ? ODOO : 'odoo',
        threshold: 3,
        window: '5m',
      });
      const now = T0 + i * MIN;
      const t1 = await h.tick(rule, now);
      assert.deepEqual(t1.firing, ['-'], 'fires first');
      const cursorBefore = await h.store.getCursor(rule.id);
      inject(h);
      const t2 = await h.tick(rule, now + 30 * S);
      assert.equal(t2.ev.ok, false);
      assert.match(
        t2.ev.ok ? '' : `${t2.ev.source} ${t2.ev.error}`,
        new RegExp(`^elasticsearch ${error.source.slice(1)}`),
      );
      assert.deepEqual(t2.resolved, [], 'an unreadable source never resolves');
      const alerts = await h.store.alertsForRule(rule.id);
      assert.deepEqual(
        alerts.map((a) => a.state),
        ['firing'],
      );
      const failing = (await h.store.alertsForRule(EVALUATION_FAILING_RULE_ID)).filter(
        (a) => a.labels['source'] === 'elasticsearch',
      );
      assert.equal(failing.length, 1);
      assert.match(String(failing[0]!.values['rule_ids']), new RegExp(rule.id));
      assert.deepEqual(await h.store.getCursor(rule.id), cursorBefore, 'the cursor does not move on failure');
    });
  });

  it('connection refused → unreachable', async () => {
    const cfg = configSchema.parse({ sources: { elasticsearch: { nodes: ['http://127.0.0.1:1'], timeout: '1s' } } })
      .sources.elasticsearch!;
    const src = createElasticsearchSource(cfg, silentLogger);
    const r = await src.search({ index: 'x', body: {} });
    await src.close();
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.kind, 'unreachable');
  });

  it('a per-item error fails only its rule; the other items of the batch succeed', async () => {
    const fake = await startFakeElasticsearch({
      now: () => T0,
      search: (index) => (index === 'broken-*' ? indexNotFound('broken-*') : undefined),
    });
    fake.createIndex(ODOO);
    const cfg = configSchema.parse({ sources: { elasticsearch: { nodes: [fake.url] } } }).sources.elasticsearch!;
    const src = createElasticsearchSource(cfg, silentLogger);
    try {
      const [a, b] = await Promise.all([
        src.search({ index: 'broken-*', body: { size: 0 } }),
        src.search({ index: ODOO, body: { size: 0, track_total_hits: true } }),
      ]);
      assert.equal(fake.requestsTo('/_msearch').length, 1);
      assert.equal(a.ok, false);
      assert.equal(b.ok, true);
    } finally {
      await src.close();
      await fake.close();
    }
  });
});

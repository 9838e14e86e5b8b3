import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { createElasticsearchSource } from '../../src/sources/elasticsearch/client.js';
import { createHttpProbe } from '../../src/sources/http-probe.js';
import type { Sources } from '../../src/sources/sources.js';
import { buildStatus } from '../../src/status/snapshot.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { startFakeElasticsearch } from '../support/fake-elasticsearch.js';

/** /status says whether Elasticsearch answers and how fresh the newest Odoo log line is. */
test('status: Elasticsearch reachability and log freshness, over the real client', async () => {
  const now = Date.parse('2026-11-25T12:00:00Z');
  const fake = await startFakeElasticsearch({ now: () => now });
  const config = configSchema.parse({ sources: { elasticsearch: { nodes: [fake.url] } } });
  const es = createElasticsearchSource(config.sources.elasticsearch!, silentLogger);
  const sources: Sources = { http: createHttpProbe(), elasticsearch: es, close: async () => es.close() };
  const store = new SqliteStore(':memory:');
  try {
    // Before Filebeat created the data stream: ES answers a per-item 404 (we send allow_no_indices=false).
    let s = await buildStatus(config, sources, store, now);
    assert.deepEqual(
      s.sources.find((x) => x.name === 'elasticsearch'),
      {
        name: 'elasticsearch',
        state: 'no data',
        detail: 'no index matches logs-odoo.app-* yet (has Filebeat shipped any line? see filebeat/setup.sh)',
        ageMs: 0,
      },
    );

    fake.createIndex('logs-odoo.app-default');
    s = await buildStatus(config, sources, store, now);
    assert.deepEqual(
      s.sources.find((x) => x.name === 'elasticsearch'),
      { name: 'elasticsearch', state: 'ok', detail: 'logs-odoo.app-*: reachable, no log lines yet', ageMs: 0 },
    );

    fake.indexDocs('logs-odoo.app-default', [
      { '@timestamp': '2026-11-25T11:59:18.000Z', message: 'a' },
      { '@timestamp': '2026-11-25T11:50:00.000Z', message: 'b' },
    ]);
    s = await buildStatus(config, sources, store, now);
    assert.equal(
      s.sources.find((x) => x.name === 'elasticsearch')?.detail,
      'logs-odoo.app-*: newest log line 42 s old',
    );

    fake.fail({ status: 401, type: 'security_exception', reason: 'unable to authenticate' }, 1);
    s = await buildStatus(config, sources, store, now);
    const line = s.sources.find((x) => x.name === 'elasticsearch');
    assert.equal(line?.state, 'unreachable');
    assert.match(line?.detail ?? '', /auth/);
  } finally {
    await sources.close();
    await store.close();
    await fake.close();
  }
});

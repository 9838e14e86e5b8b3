import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Client, errors, type estypes } from '@elastic/elasticsearch';
import {
  startFakeElasticsearch,
  esError,
  type FakeElasticsearch,
  type FakeElasticsearchOptions,
} from './fake-elasticsearch.js';

const ODOO = 'logs-odoo.app-default';
const PATRONI = 'logs-patroni.log-default';
const NOW = Date.parse('2024-11-04T02:30:00.000Z');

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(
  opts: FakeElasticsearchOptions = {},
  clientOpts: Partial<ConstructorParameters<typeof Client>[0]> = {},
): Promise<{ es: FakeElasticsearch; client: Client }> {
  const es = await startFakeElasticsearch({ now: () => NOW, ...opts });
  const client = new Client({ node: es.url, ...clientOpts });
  cleanups.push(() => es.close());
  cleanups.push(() => client.close());
  return { es, client };
}

/** Odoo-ish events: 3 ERROR + 1 CRITICAL between 02:24 and 02:26, one WARNING, one old ERROR. */
function seed(es: FakeElasticsearch): void {
  es.indexDocs(ODOO, [
    {
      _id: 'e1',
      '@timestamp': '2024-11-04T02:24:38.332Z',
      log: { level: 'ERROR', logger: 'odoo.sql_db' },
      host: { name: 'odoo-1' },
      message: 'bad query: SELECT 1\nERROR: could not serialize access',
      odoo: { db: 'prod' },
    },
    {
      _id: 'e2',
      '@timestamp': '2024-11-04T02:24:51.000Z',
      'log.level': 'ERROR',
      'log.logger': 'odoo.sql_db',
      'host.name': 'odoo-2',
      message: 'bad query: UPDATE x',
    },
    {
      _id: 'e3',
      '@timestamp': '2024-11-04T02:26:10.000Z',
      log: { level: 'CRITICAL', logger: 'odoo.service.server' },
      host: { name: 'odoo-1' },
      message: 'Failed to initialize database `prod`',
    },
    {
      _id: 'e4',
      '@timestamp': 1730687230000 /* 02:27:10 */,
      log: { level: 'ERROR', logger: 'odoo.http' },
      host: { name: 'odoo-1' },
      message: 'Exception during request handling',
    },
    {
      _id: 'w1',
      '@timestamp': '2024-11-04T02:25:00.000Z',
      log: { level: 'WARNING', logger: 'odoo.sql_db' },
      host: { name: 'odoo-2' },
      message: 'slow query',
    },
    {
      _id: 'old',
      '@timestamp': '2024-11-03T10:00:00.000Z',
      log: { level: 'ERROR', logger: 'odoo.sql_db' },
      host: { name: 'odoo-1' },
      message: 'yesterday',
    },
  ]);
  es.indexDocs(PATRONI, [
    {
      '@timestamp': '2024-11-04T02:24:40.000Z',
      log: { level: 'INFO' },
      host: { name: 'pg-2' },
      message: 'INFO: promoted self to leader by acquiring session lock',
    },
    {
      '@timestamp': '2024-11-04T02:24:41.000Z',
      log: { level: 'INFO' },
      host: { name: 'pg-2' },
      message: 'server promoting',
    },
  ]);
}

describe('fake Elasticsearch with the real @elastic/elasticsearch client', () => {
  test('search: range + terms + aggregations over indexed docs', async () => {
    const { es, client } = await setup();
    seed(es);
    const r = await client.search({
      index: 'logs-odoo*',
      size: 2,
      track_total_hits: true,
      sort: [{ '@timestamp': 'desc' }],
      query: {
        bool: {
          filter: [
            { range: { '@timestamp': { gte: '2024-11-04T02:24:00.000Z', lt: '2024-11-04T02:27:00.000Z' } } },
            { terms: { 'log.level': ['ERROR', 'CRITICAL'] } },
          ],
        },
      },
      aggs: {
        per_min: {
          date_histogram: {
            field: '@timestamp',
            fixed_interval: '1m',
            min_doc_count: 0,
            extended_bounds: { min: '2024-11-04T02:23:00.000Z', max: '2024-11-04T02:26:59.999Z' },
          },
        },
        by_logger: {
          terms: { field: 'log.logger', size: 1 },
          aggs: {
            hosts: { cardinality: { field: 'host.name' } },
            last: { max: { field: '@timestamp' } },
            latest: { top_hits: { size: 1, sort: [{ '@timestamp': 'desc' }], _source: ['message'] } },
          },
        },
        crit: { filter: { term: { 'log.level': 'CRITICAL' } } },
      },
    });

    assert.deepEqual(r.hits.total, { value: 3, relation: 'eq' });
    assert.deepEqual(
      r.hits.hits.map((h) => h._id),
      ['e3', 'e2'],
    );
    assert.deepEqual(r.hits.hits[0]?.sort, [Date.parse('2024-11-04T02:26:10.000Z')]);
    assert.equal(r.hits.hits[0]?._score, null);
    assert.equal(r.hits.hits[0]?._index, ODOO);
    assert.equal(r.timed_out, false);
    assert.deepEqual(r._shards, { total: 1, successful: 1, skipped: 0, failed: 0 });

    const aggs = r.aggregations as Record<string, any>;
    assert.deepEqual(
      aggs['per_min'].buckets.map((b: { key_as_string: string; doc_count: number }) => [b.key_as_string, b.doc_count]),
      [
        ['2024-11-04T02:23:00.000Z', 0],
        ['2024-11-04T02:24:00.000Z', 2],
        ['2024-11-04T02:25:00.000Z', 0],
        ['2024-11-04T02:26:00.000Z', 1],
      ],
    );
    assert.equal(aggs['per_min'].buckets[1].key, Date.parse('2024-11-04T02:24:00.000Z'));
    assert.equal(aggs['by_logger'].sum_other_doc_count, 1);
    const [top] = aggs['by_logger'].buckets;
    assert.equal(top.key, 'odoo.sql_db');
    assert.equal(top.doc_count, 2);
    assert.deepEqual(top.hosts, { value: 2 });
    assert.deepEqual(top.last, {
      value: Date.parse('2024-11-04T02:24:51.000Z'),
      value_as_string: '2024-11-04T02:24:51.000Z',
    });
    assert.deepEqual(top.latest.hits.hits[0]._source, { message: 'bad query: UPDATE x' });
    assert.equal(top.latest.hits.total.value, 2);
    assert.deepEqual(aggs['crit'], { doc_count: 1 });
  });

  test('date math uses the injected clock; track_total_hits limits; search_after pages', async () => {
    const { es, client } = await setup();
    seed(es);
    const recent = await client.search({
      index: ODOO,
      size: 0,
      query: { range: { '@timestamp': { gte: 'now-5m', lt: 'now' } } },
    });
    // now = 02:30, so [02:25, 02:30) holds w1, e3 and e4.
    assert.equal((recent.hits.total as { value: number }).value, 3);
    const capped = await client.search({ index: ODOO, size: 0, track_total_hits: 2 });
    assert.deepEqual(capped.hits.total, { value: 2, relation: 'gte' });
    const none = await client.search({ index: ODOO, size: 0, track_total_hits: false });
    assert.equal(none.hits.total, undefined);

    const sort: estypes.Sort = [{ '@timestamp': { order: 'asc' } }, { _doc: { order: 'asc' } }];
    const page1 = await client.search({ index: ODOO, size: 2, sort });
    const page2 = await client.search({ index: ODOO, size: 2, sort, search_after: page1.hits.hits[1]!.sort! });
    assert.deepEqual(
      page1.hits.hits.map((h) => h._id),
      ['old', 'e1'],
    );
    assert.deepEqual(
      page2.hits.hits.map((h) => h._id),
      ['e2', 'w1'],
    );
  });

  test('query_string, match_phrase, exists, must_not and should/minimum_should_match', async () => {
    const { es, client } = await setup();
    seed(es);
    const ids = async (query: Record<string, unknown>, index = 'logs-*'): Promise<string[]> =>
      (await client.search({ index, size: 100, sort: ['_doc'], query })).hits.hits.map((h) => h._id!);

    assert.deepEqual(
      await ids({ query_string: { query: 'log.level:(ERROR OR CRITICAL) AND NOT log.logger:odoo.sql_db' } }, ODOO),
      ['e3', 'e4'],
    );
    assert.deepEqual(await ids({ query_string: { query: 'message:"server promoting"' } }), [`${PATRONI}-8`]);
    assert.deepEqual(await ids({ query_string: { query: 'host.name:odoo-* AND log.level:WARNING' } }), ['w1']);
    assert.deepEqual(await ids({ match_phrase: { message: 'could not serialize' } }), ['e1']);
    // keyword semantics: exact and case-sensitive, unlike the analysed `message`
    assert.deepEqual(await ids({ term: { 'log.level': 'error' } }), []);
    assert.deepEqual(await ids({ exists: { field: 'odoo.db' } }), ['e1']);
    assert.deepEqual(
      await ids(
        {
          bool: {
            must_not: [{ term: { 'log.level': 'WARNING' } }],
            should: [{ term: { 'host.name': 'odoo-2' } }, { match_phrase: { message: 'bad query' } }],
            minimum_should_match: 2,
          },
        },
        ODOO,
      ),
      ['e2'],
    );

    await assert.rejects(
      client.search({ index: ODOO, query: { query_string: { query: 'a OR b AND c' } } }),
      (e: unknown) =>
        e instanceof errors.ResponseError && e.statusCode === 400 && /mixing AND and OR/.test(JSON.stringify(e.body)),
    );
    await assert.rejects(
      client.search({ index: ODOO, query: { fuzzy: { message: 'x' } } }),
      (e: unknown) =>
        e instanceof errors.ResponseError &&
        e.statusCode === 400 &&
        (e.body as any).error.type === 'parsing_exception' &&
        (e.body as any).error.reason === 'unknown query [fuzzy]',
    );
    // Aggregating on analysed text is refused as on a real cluster.
    await assert.rejects(
      client.search({ index: ODOO, aggs: { m: { terms: { field: 'message' } } } }),
      (e: unknown) =>
        e instanceof errors.ResponseError &&
        e.statusCode === 400 &&
        (e.body as any).error.root_cause[0].type === 'illegal_argument_exception',
    );
  });

  test('msearch of 3 searches with a missing index returns a per-item 404', async () => {
    const { es, client } = await setup();
    seed(es);
    const r = await client.msearch({
      searches: [
        { index: 'logs-odoo*' },
        { size: 0, query: { term: { 'log.level': 'ERROR' } } },
        { index: 'logs-missing-default' },
        { size: 0 },
        { index: PATRONI },
        { size: 0, track_total_hits: true },
      ],
    });
    assert.equal(r.responses.length, 3);
    const [a, b, c] = r.responses as any[];
    assert.equal(a.status, 200);
    assert.equal(a.hits.total.value, 4);
    assert.equal(b.status, 404);
    assert.equal(b.error.type, 'index_not_found_exception');
    assert.equal(b.error.reason, 'no such index [logs-missing-default]');
    assert.equal(b.error.root_cause[0].index, 'logs-missing-default');
    assert.equal(c.status, 200);
    assert.equal(c.hits.total.value, 2);

    const [req] = es.requestsTo('/_msearch');
    assert.ok(req);
    assert.match(String(req.headers['content-type']), /^application\/vnd\.elasticsearch\+x-ndjson; compatible-with=9$/);
    assert.equal((req.body as unknown[]).length, 6, 'the NDJSON body is recorded as its parsed lines');
    assert.ok(req.rawBody.endsWith('\n'));
  });

  test('the client announces compatible-with=9; a fake 8.x server refuses it like ES 8 does', async () => {
    const { es, client } = await setup();
    assert.equal(await client.ping(), true);
    const info = await client.info();
    assert.equal(info.version.number, '9.1.0');
    assert.equal(info.tagline, 'You Know, for Search');
    for (const r of es.requests) assert.match(String(r.headers['accept']), /compatible-with=9/);

    const old = await setup({ version: '8.15.0' });
    await assert.rejects(
      old.client.search({ index: 'x' }),
      (e: unknown) =>
        e instanceof errors.ResponseError &&
        e.statusCode === 400 &&
        (e.body as any).error.type === 'media_type_header_exception',
    );
  });

  test('count and ignore_unavailable', async () => {
    const { es, client } = await setup();
    seed(es);
    assert.deepEqual(await client.count({ index: ODOO, query: { term: { 'log.level': 'ERROR' } } }), {
      count: 3 + 1,
      _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
    });
    await assert.rejects(
      client.count({ index: 'nope' }),
      (e: unknown) => e instanceof errors.ResponseError && e.statusCode === 404,
    );
    assert.equal((await client.count({ index: 'nope,logs-*', ignore_unavailable: true })).count, 8);
    // A wildcard that matches nothing is not an error.
    assert.equal((await client.count({ index: 'nothing-*' })).count, 0);
  });

  test('401 → ResponseError 401 (not retried)', async () => {
    const { es, client } = await setup();
    es.fail({ status: 401 });
    await assert.rejects(client.search({ index: ODOO }), (e: unknown) => {
      assert.ok(e instanceof errors.ResponseError);
      assert.equal(e.statusCode, 401);
      assert.equal((e.body as any).error.type, 'security_exception');
      return true;
    });
    assert.equal(es.requests.length, 1);
  });

  test('missing product header → ProductNotSupportedError; wrong content type → raw string', async () => {
    const { es, client } = await setup();
    es.createIndex(ODOO);
    es.dropProductHeader();
    await assert.rejects(client.search({ index: ODOO }), (e: unknown) => e instanceof errors.ProductNotSupportedError);
    es.wrongContentType();
    const r: unknown = await client.search({ index: ODOO });
    assert.equal(typeof r, 'string', 'the client silently hands back text when the content type is not JSON');
  });

  test('delay + requestTimeout → TimeoutError (one request, not retried)', async () => {
    const { es, client } = await setup({}, { requestTimeout: 300 });
    es.createIndex(ODOO);
    es.delay(1500);
    const t0 = Date.now();
    await assert.rejects(client.search({ index: ODOO }), (e: unknown) => e instanceof errors.TimeoutError);
    assert.ok(Date.now() - t0 < 1400);
    assert.equal(es.requests.length, 1);
    // The server is still usable afterwards.
    assert.equal((await client.search({ index: ODOO })).hits.hits.length, 0);
  });

  test('503 is retried by the client; 429 is not', async () => {
    const { es, client } = await setup();
    es.createIndex(ODOO);
    es.fail({ status: 503 });
    assert.equal((await client.search({ index: ODOO })).timed_out, false);
    assert.equal(es.requests.length, 2);
    es.fail({ status: 429 });
    await assert.rejects(
      client.search({ index: ODOO }),
      (e: unknown) => e instanceof errors.ResponseError && e.statusCode === 429,
    );
    assert.equal(es.requests.length, 3);
  });

  test('shard failures, timed_out and malformed bodies are visible to the caller', async () => {
    const { es, client } = await setup();
    seed(es);
    es.shardFailures(1, { total: 3, reason: 'No mapping found for [@timestamp]' });
    const partial = await client.search({ index: ODOO, size: 0 });
    assert.equal(partial._shards.failed, 1);
    assert.equal(partial._shards.successful, 2);
    assert.equal(partial._shards.failures?.[0]?.reason.reason, 'No mapping found for [@timestamp]');

    es.timedOut();
    assert.equal((await client.search({ index: ODOO, size: 0 })).timed_out, true);

    es.malformed();
    const broken = (await client.search({ index: ODOO })) as unknown as Record<string, unknown>;
    assert.equal(broken['hits'], undefined);
    assert.equal(broken['timed_out'], false);

    // msearch items consume shard-failure faults one by one.
    es.shardFailures(2, {}, 1);
    const m = await client.msearch({ searches: [{ index: ODOO }, { size: 0 }, { index: ODOO }, { size: 0 }] });
    assert.deepEqual(
      (m.responses as any[]).map((x) => x._shards.failed),
      [2, 0],
    );
  });

  test('a test-supplied handler answers searches, msearch items and counts', async () => {
    const seen: string[] = [];
    const { client } = await setup({
      search: async (index, body) => {
        seen.push(`${index}:${JSON.stringify(body['query'] ?? null)}`);
        await new Promise((r) => setTimeout(r, 5));
        if (index === 'forbidden') return esError(403, 'security_exception', 'no');
        if (index === 'docs') return undefined; // fall through to the in-memory documents (none: 404)
        return {
          hits: { hits: [{ _id: 'a', _source: { message: 'hello' } }], total: { value: 42, relation: 'eq' } },
          aggregations: { n: { value: 7 } },
        };
      },
    });
    const r = await client.search({ index: 'custom', query: { match_all: {} } });
    assert.equal(r.hits.hits[0]?._index, 'custom');
    assert.deepEqual(r.hits.hits[0]?._source, { message: 'hello' });
    assert.deepEqual(r.aggregations, { n: { value: 7 } });
    assert.equal((await client.count({ index: 'custom' })).count, 42);
    const m = await client.msearch({
      searches: [{ index: 'custom' }, {}, { index: 'forbidden' }, {}, { index: 'docs' }, {}],
    });
    assert.deepEqual(
      (m.responses as any[]).map((x) => x.status),
      [200, 403, 404],
    );
    assert.deepEqual(seen[0], 'custom:{"match_all":{}}');
  });
});

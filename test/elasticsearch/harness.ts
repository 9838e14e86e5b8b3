/** Shared wiring for the Elasticsearch tests: the real client, over HTTP, against the loopback fake. */
import { AlertEngine } from '../../src/alerts/engine.js';
import { configSchema } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { createRegistry, ruleSchemaFor } from '../../src/rules/registry.js';
import type { Evaluation, Rule } from '../../src/rules/rule-type.js';
import { evaluateRule } from '../../src/scheduler.js';
import { createElasticsearchSource, type ElasticsearchSource } from '../../src/sources/elasticsearch/client.js';
import type { Sources } from '../../src/sources/sources.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import {
  startFakeElasticsearch,
  type FakeElasticsearch,
  type FakeElasticsearchOptions,
  type JsonObject,
} from '../support/fake-elasticsearch.js';
import { CapturingNotifier, makeRule } from '../support/builders.js';

export const T0 = Date.parse('2025-01-10T09:00:00.000Z');
export const MIN = 60_000;

export interface Harness {
  es: FakeElasticsearch;
  source: ElasticsearchSource;
  sources: Sources;
  store: SqliteStore;
  engine: AlertEngine;
  notifier: CapturingNotifier;
  /** Parses a rule as written in YAML (type-specific fields validated by the real schema). */
  rule(yaml: Record<string, unknown>, over?: Partial<Rule>): Rule;
  /** One scheduler tick at `now`: read the cursor, evaluate (real client → fake), apply (commits cursor). */
  tick(rule: Rule, now: number): Promise<{ ev: Evaluation; firing: string[]; resolved: string[] }>;
  msearches(): JsonObject[][];
  close(): Promise<void>;
}

export async function startHarness(
  o: { es?: Record<string, unknown>; fake?: FakeElasticsearchOptions; store?: SqliteStore } = {},
): Promise<Harness> {
  const es = await startFakeElasticsearch({ now: () => T0, ...o.fake });
  const cfg = configSchema.parse({
    sources: { elasticsearch: { nodes: [es.url], ingest_delay: '30s', timeout: '2s', ...o.es } },
  }).sources.elasticsearch!;
  const source = createElasticsearchSource(cfg, silentLogger);
  const sources: Sources = {
    http: {
      probe: async () => {
        throw new Error('no http in these tests');
      },
    },
    elasticsearch: source,
    async close() {
      await source.close();
    },
  };
  const store = o.store ?? new SqliteStore(':memory:');
  const notifier = new CapturingNotifier();
  const engine = new AlertEngine({
    store,
    notifiers: [notifier],
    cluster: 'test',
    logger: silentLogger,
    failingAfterMs: 0,
  });
  const registry = createRegistry();
  return {
    es,
    source,
    sources,
    store,
    engine,
    notifier,
    rule(yaml, over = {}) {
      const t = registry.get(String(yaml['type']));
      if (!t) throw new Error(`unknown type ${String(yaml['type'])}`);
      const parsed = ruleSchemaFor(t).parse({ id: 'r1', ...yaml }) as Record<string, unknown>;
      const common = new Set([
        'id',
        'type',
        'name',
        'description',
        'severity',
        'every',
        'schedule',
        'for',
        'keep_firing_for',
        'repeat',
        'timeout',
        'labels',
        'message',
        'runbook',
        'enabled',
      ]);
      const spec = Object.fromEntries(Object.entries(parsed).filter(([k]) => !common.has(k)));
      return makeRule({
        id: String(parsed['id']),
        type: t.type,
        message: t.defaultMessage,
        timeout: 3000,
        spec,
        ...over,
      });
    },
    async tick(rule, now) {
      const ev = await evaluateRule(rule, { registry, sources, logger: silentLogger, store }, new Date(now));
      const r = await engine.apply(rule, ev, now);
      const names = (k: 'firing' | 'resolved') =>
        r.notifications
          .filter((n) => n.kind === k && n.rule.id === rule.id)
          .flatMap((n) => n.alerts.map((a) => Object.values(a.labels).join('/') || '-'));
      return { ev, firing: names('firing'), resolved: names('resolved') };
    },
    msearches() {
      return es.requestsTo('/_msearch').map((r) => r.body as JsonObject[]);
    },
    async close() {
      await source.close();
      await es.close();
      if (!o.store) await store.close();
    },
  };
}

/** An Odoo log document as the ingest pipeline writes it (arrived promptly: event.ingested = @timestamp). */
export function odooDoc(at: number, over: JsonObject = {}): JsonObject {
  return {
    '@timestamp': new Date(at).toISOString(),
    event: { ingested: new Date(at).toISOString() },
    host: { name: 'odoo1' },
    odoo: { db: 'prod' },
    log: { level: 'ERROR', logger: 'odoo.sql_db' },
    process: { pid: 2210 },
    message: 'bad query: UPDATE res_partner SET x = 1',
    ...over,
  };
}

/** The [gte, lt) bounds of every @timestamp range in a search body, in order of appearance (an arrival window has one too: its fallback for documents without event.ingested). */
export function ranges(body: unknown): [string, string][] {
  const out: [string, string][] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) {
      n.forEach(walk);
      return;
    }
    if (!n || typeof n !== 'object') return;
    const o = n as Record<string, unknown>;
    const r = (o['range'] as Record<string, { gte?: string; lt?: string }> | undefined)?.['@timestamp'];
    if (r) out.push([r.gte!, r.lt!]);
    for (const v of Object.values(o)) walk(v);
  };
  walk(body);
  return out;
}

export const isoAt = (ms: number): string => new Date(ms).toISOString();

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadAll } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { createRegistry } from '../../src/rules/registry.js';
import type { Rule } from '../../src/rules/rule-type.js';
import { evaluateRule } from '../../src/scheduler.js';
import { MIN, T0, odooDoc, startHarness, type Harness } from './harness.js';

const S = 1000;
/** A config with only the two log packs (other packs change in parallel), shaped like the shipped one. */
function packConfig(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ohw-packs-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(
    file,
    [
      'rules:',
      `  paths: [${JSON.stringify(resolve('rules/odoo.yaml'))}, ${JSON.stringify(resolve('rules/patroni-logs.yaml'))}]`,
      'sources:',
      '  elasticsearch:',
      '    nodes: ["${ELASTICSEARCH_URL:-http://127.0.0.1:9200}"]',
      '    server_major: ${ELASTICSEARCH_SERVER_MAJOR:-9}',
      '',
    ].join('\n'),
  );
  return file;
}

describe('rules/odoo.yaml and rules/patroni-logs.yaml', () => {
  let h: Harness;
  let rules: Rule[];
  before(async () => {
    h = await startHarness();
    const r = loadAll(packConfig(), { env: { ...process.env, ELASTICSEARCH_URL: h.es.url } });
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues, null, 2));
    rules = r.loaded.rules.filter((x) => x.type.startsWith('log_'));
    assert.equal(r.loaded.config.sources.elasticsearch?.nodes[0], h.es.url);
    h.es.createIndex('logs-odoo.app-default');
    h.es.createIndex('logs-patroni.log-default');
  });
  after(async () => h.close());

  it('load, with a runbook on every rule', () => {
    assert.ok(rules.length >= 20);
    for (const r of rules) assert.ok(r.runbook && r.runbook.length > 40, `${r.id} needs a runbook`);
    const ro = rules.find((r) => r.id === 'odoo-readonly-transaction')!;
    assert.equal(ro.labels['incident'], 'failover');
    assert.match(ro.runbook!, /FAILOVER/);
  });

  it('every rule evaluates against the fake (queries are valid), in one _msearch per tick', async () => {
    const before = h.es.requestsTo('/_msearch').length;
    const evs = await Promise.all(
      rules.map((r) =>
        evaluateRule(
          r,
          { registry: createRegistry(), sources: h.sources, logger: silentLogger, store: h.store },
          new Date(T0),
        ),
      ),
    );
    evs.forEach((e, i) => assert.equal(e.ok, true, `${rules[i]!.id}: ${e.ok ? '' : e.error}`));
    // log_new_value issues its second search only when there are candidates: one round here.
    assert.equal(h.es.requestsTo('/_msearch').length - before, 1);
  });

  it('the read-only transaction rule fires; HAProxy health-check resets never reach patroni-error-rate', async () => {
    const end = T0 + 10 * MIN - 30 * S;
    h.es.indexDocs('logs-odoo.app-default', [
      odooDoc(end - MIN, {
        odoo: { db: 'prod', event: 'readonly_transaction' },
        message: 'bad query: UPDATE …\nERROR: cannot execute UPDATE in a read-only transaction',
      }),
    ]);
    h.es.indexDocs(
      'logs-patroni.log-default',
      Array.from({ length: 30 }, (_, i) =>
        odooDoc(end - MIN + i * S, {
          host: { name: 'pg1' },
          log: { level: 'ERROR', logger: 'patroni' },
          patroni: { event: 'health_check_reset' },
          odoo_ha: { noise: true },
          message: 'Exception happened during processing of request from (10.0.0.5, 51234)',
        }),
      ),
    );
    const ro = await h.tick(rules.find((r) => r.id === 'odoo-readonly-transaction')!, T0 + 10 * MIN);
    assert.deepEqual(ro.firing, ['odoo/failover/odoo1'], 'labels: component, incident, host_name');
    const pe = await h.tick(rules.find((r) => r.id === 'patroni-error-rate')!, T0 + 10 * MIN);
    assert.equal(pe.ev.ok, true);
    assert.deepEqual(pe.firing, []);
  });

  it('a log rule without sources.elasticsearch is a load-time error at the rule', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ohw-es-'));
    writeFileSync(join(dir, 'c.yaml'), 'rules:\n  paths: ["r.yaml"]\n');
    writeFileSync(join(dir, 'r.yaml'), 'rules:\n  - id: x\n    type: log_any\n    query: "log.level:ERROR"\n');
    const r = loadAll(join(dir, 'c.yaml'));
    assert.equal(r.ok, false);
    assert.match(
      r.ok ? '' : r.issues.map((i) => `${i.line}: ${i.message}`).join('\n'),
      /3: log rules need sources\.elasticsearch/,
    );
  });
});

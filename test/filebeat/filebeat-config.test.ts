import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse } from 'yaml';
import { loadOniguruma } from '../support/ingest/onig.js';
import { joinLines, type MultilineConfig } from '../support/ingest/multiline.js';
import { runPipeline } from '../support/ingest/pipeline.js';
import { filebeatEvent, getPath, leafPaths, loadCorpus, loadPipeline, repoPath } from '../support/ingest/corpus.js';

before(loadOniguruma);

interface Input {
  type: string;
  id: string;
  pipeline: string;
  index: string;
  paths: string[];
  parsers: Array<{ multiline?: MultilineConfig }>;
  fields: {
    event: { dataset: string; timezone: string };
    data_stream: { dataset: string };
    odoo_ha: { node_role: string };
  };
}

const config = parse(readFileSync(repoPath('filebeat/filebeat.yml'), 'utf8')) as {
  'filebeat.inputs': Input[];
  'setup.template.enabled': boolean;
  'setup.ilm.enabled': boolean;
  'output.elasticsearch': { hosts: string[]; username: string; password: string };
};
const inputs = config['filebeat.inputs'];
const PIPELINE_FILES: Record<string, string> = {
  'odoo-ha-watch-odoo': 'odoo',
  'odoo-ha-watch-patroni': 'patroni',
  'odoo-ha-watch-postgresql': 'postgresql',
};
const CORPUS_FOR: Record<string, string> = {
  'odoo.app': 'odoo-corpus.yaml',
  'patroni.log': 'patroni-corpus.yaml',
  'postgresql.log': 'postgresql-corpus.yaml',
};

test('filebeat.yml: filestream inputs with unique ids, data streams and roles', () => {
  assert.equal(inputs.length, 3);
  assert.equal(new Set(inputs.map((i) => i.id)).size, inputs.length, 'duplicate filestream ids duplicate data');
  for (const input of inputs) {
    assert.equal(input.type, 'filestream');
    assert.match(input.id, /^[a-z0-9-]+$/);
    const ds = input.fields.data_stream.dataset;
    assert.equal(input.index, `logs-${ds}-\${ODOO_HA_NAMESPACE:default}`);
    assert.equal(input.fields.event.dataset, ds);
    assert.match(input.fields.event.timezone, /^\$\{ODOO_HA_LOG_TZ:[^}]+\}$/);
    assert.ok(['app', 'db'].includes(input.fields.odoo_ha.node_role));
  }
  assert.equal(config['setup.template.enabled'], false);
  assert.equal(config['setup.ilm.enabled'], false);
  assert.match(config['output.elasticsearch'].hosts[0]!, /^\$\{ES_HOST:https?:\/\/[^}]+\}$/);
});

test('filebeat.yml: every referenced pipeline exists in filebeat/ingest and setup.sh installs it', () => {
  const setup = readFileSync(repoPath('filebeat/setup.sh'), 'utf8');
  for (const input of inputs) {
    const file = PIPELINE_FILES[input.pipeline];
    assert.ok(file, `unknown pipeline ${input.pipeline}`);
    assert.ok(loadPipeline(file).processors.length > 0);
    assert.ok(
      setup.includes(`/_ingest/pipeline/${input.pipeline} "\${here}/ingest/${file}.json"`),
      `setup.sh misses ${input.pipeline}`,
    );
  }
  assert.ok(setup.includes('/_index_template/odoo-ha-watch-logs'));
  assert.ok(setup.includes('/_ilm/policy/odoo-ha-watch-logs'));
});

// The corpus events are written out as a log file, read back line by line and re-joined by the
// multiline settings of the matching input: the result must be the corpus events again.
for (const input of inputs) {
  test(`multiline parser of ${input.id} rebuilds the corpus events`, () => {
    const ml = input.parsers.find((p) => p.multiline)?.multiline;
    assert.ok(ml);
    const events = loadCorpus(CORPUS_FOR[input.fields.data_stream.dataset]!)
      .filter((e) => !e.failure) // negative cases are deliberately not log-shaped
      .map((e) => e.raw);
    const lines = events.join('\n').split('\n');
    assert.deepEqual(joinLines(lines, ml), events);
  });
}

test('multiline: max_lines truncates a runaway traceback like Filebeat', () => {
  const ml: MultilineConfig = {
    type: 'pattern',
    pattern: '^\\d{4}-\\d{2}-\\d{2} ',
    negate: true,
    match: 'after',
    max_lines: 3,
  };
  assert.deepEqual(joinLines(['2025-01-01 a', 'b', 'c', 'd', '2025-01-02 e'], ml), [
    '2025-01-01 a\nb\nc',
    '2025-01-02 e',
  ]);
});

interface Mapping {
  type?: string;
  properties?: Record<string, Mapping>;
}

function mappingAt(props: Record<string, Mapping>, path: string): Mapping | undefined {
  const parts = path.split('.');
  let cur: Mapping | undefined = { properties: props };
  for (const p of parts) cur = cur?.properties?.[p];
  return cur;
}

test('index template maps every field the pipelines emit, with compatible types', () => {
  const tpl = JSON.parse(readFileSync(repoPath('filebeat/index-template.json'), 'utf8')) as {
    index_patterns: string[];
    data_stream: object;
    priority: number;
    template: { settings: Record<string, string>; mappings: { properties: Record<string, Mapping> } };
  };
  const ilm = JSON.parse(readFileSync(repoPath('filebeat/ilm-policy.json'), 'utf8')) as {
    policy: { phases: { hot: { actions: { rollover: Record<string, string> } }; delete: { min_age: string } } };
  };
  assert.deepEqual(tpl.index_patterns.sort(), ['logs-odoo.app-*', 'logs-patroni.log-*', 'logs-postgresql.log-*']);
  assert.deepEqual(tpl.data_stream, {});
  assert.ok(tpl.priority > 100, 'must win over the built-in logs-*-* template (priority 100)');
  assert.equal(tpl.template.settings['index.lifecycle.name'], 'odoo-ha-watch-logs');
  assert.deepEqual(ilm.policy.phases.hot.actions.rollover, { max_age: '1d', max_primary_shard_size: '10gb' });
  assert.equal(ilm.policy.phases.delete.min_age, '30d');

  const props = tpl.template.mappings.properties;
  const seen = new Set<string>();
  for (const [name, file] of Object.entries(PIPELINE_FILES)) {
    const input = inputs.find((i) => i.pipeline === name)!;
    const body = loadPipeline(file);
    for (const entry of loadCorpus(CORPUS_FOR[input.fields.data_stream.dataset]!)) {
      const { doc } = runPipeline(body, filebeatEvent(entry, input.fields.data_stream.dataset, 'db'));
      for (const path of leafPaths(doc)) {
        seen.add(path);
        const m = mappingAt(props, path);
        assert.ok(m?.type, `${entry.name}: ${path} is not mapped`);
        const v = getPath(doc, path).value;
        const values = Array.isArray(v) ? v : [v];
        for (const x of values) {
          switch (m.type) {
            case 'long':
              assert.ok(Number.isInteger(x), `${path}=${JSON.stringify(x)} is not a long`);
              break;
            case 'float':
            case 'double':
              assert.equal(typeof x, 'number', `${path}`);
              break;
            case 'boolean':
              assert.equal(typeof x, 'boolean', `${path}`);
              break;
            case 'ip':
              assert.ok(isIP(String(x)) !== 0, `${path}=${String(x)} is not an IP`);
              break;
            case 'date':
              assert.ok(!Number.isNaN(Date.parse(String(x))), `${path}=${String(x)}`);
              break;
            default:
              assert.equal(typeof x, 'string', `${path} (${m.type})`);
          }
        }
      }
    }
  }
  assert.ok(seen.size > 60, `only ${seen.size} distinct fields exercised`);
});

import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { loadOniguruma } from '../support/ingest/onig.js';
import { runPipeline, validatePipeline, type Doc } from '../support/ingest/pipeline.js';
import { filebeatEvent, getPath, loadCorpus, loadPipeline, type CorpusEntry } from '../support/ingest/corpus.js';

const SUITES = [
  { pipeline: 'odoo', corpus: 'odoo-corpus.yaml', dataset: 'odoo.app', role: 'app' },
  { pipeline: 'patroni', corpus: 'patroni-corpus.yaml', dataset: 'patroni.log', role: 'db' },
  { pipeline: 'postgresql', corpus: 'postgresql-corpus.yaml', dataset: 'postgresql.log', role: 'db' },
] as const;

before(loadOniguruma);

function checkEntry(doc: Doc, entry: CorpusEntry, failed: boolean, failure?: string): void {
  const ctx = `${entry.name}${failure ? ` (pipeline failure: ${failure})` : ''}`;
  assert.equal(failed, entry.failure === true, `${ctx}: on_failure ran=${failed}, expected ${entry.failure === true}`);
  for (const [path, expected] of Object.entries(entry.expect ?? {})) {
    const got = getPath(doc, path);
    assert.ok(got.found, `${ctx}: missing ${path}`);
    assert.deepEqual(got.value, expected, `${ctx}: ${path}`);
  }
  for (const path of entry.absent ?? []) {
    assert.ok(
      !getPath(doc, path).found,
      `${ctx}: ${path} should be absent, got ${JSON.stringify(getPath(doc, path).value)}`,
    );
  }
  assert.ok(!getPath(doc, 'temp').found, `${ctx}: temp.* must be removed`);
  if (!failed) {
    assert.ok(
      !getPath(doc, 'error.message').found ||
        getPath(doc, 'error.stack_trace').found ||
        getPath(doc, 'odoo.sql.query').found ||
        getPath(doc, 'patroni.dcs.server').found,
      `${ctx}: error.message without a source`,
    );
    assert.notEqual(getPath(doc, '@timestamp').value, '2030-01-01T00:00:00.000Z', `${ctx}: @timestamp not parsed`);
  }
}

for (const suite of SUITES) {
  describe(`ingest pipeline ${suite.pipeline} on ${suite.corpus}`, () => {
    const body = loadPipeline(suite.pipeline);
    const corpus = loadCorpus(suite.corpus);

    test('pipeline uses only emulated processors/options and compiles every grok', () => {
      validatePipeline(body);
    });

    for (const entry of corpus) {
      test(entry.name, () => {
        const { doc, failure } = runPipeline(body, filebeatEvent(entry, suite.dataset, suite.role));
        checkEntry(doc, entry, failure !== undefined, failure?.message);
      });
    }
  });
}

test('corpus size and coverage', () => {
  const sizes = SUITES.map((s) => loadCorpus(s.corpus).length);
  const total = sizes.reduce((a, b) => a + b, 0);
  assert.ok(total >= 80, `corpus has ${total} events`);
  const odoo = loadCorpus('odoo-corpus.yaml');
  // Odoo ends each record with " %(perf_info)s"; if an editor strips trailing spaces the
  // fixtures stop representing real files.
  const withTrailingSpace = odoo.filter((e) => /\S $/m.test(e.raw)).length;
  assert.ok(withTrailingSpace >= 20, `only ${withTrailingSpace} Odoo fixtures keep the trailing space`);
  assert.ok(
    odoo.some((e) => e.raw.length > 10_000),
    'a >10 kB line is part of the corpus',
  );
  assert.ok(
    odoo.some((e) => e.raw.includes('\u001b[')),
    'ANSI colours are part of the corpus',
  );
});

test('the classifications alert rules rely on are produced by the corpus', () => {
  const seen = new Map<string, Set<string>>();
  for (const suite of SUITES) {
    const body = loadPipeline(suite.pipeline);
    const field = { odoo: 'odoo.event', patroni: 'patroni.event', postgresql: 'postgresql.event' }[suite.pipeline];
    const set = new Set<string>();
    for (const entry of loadCorpus(suite.corpus)) {
      const v = getPath(runPipeline(body, filebeatEvent(entry, suite.dataset, suite.role)).doc, field);
      if (typeof v.value === 'string') set.add(v.value);
    }
    seen.set(suite.pipeline, set);
  }
  const required: Record<string, string[]> = {
    odoo: [
      'worker_timeout',
      'worker_cpu_limit',
      'worker_memory_limit',
      'serialization_retry',
      'serialization_gave_up',
      'readonly_transaction',
      'db_connection_failed',
      'bus_unavailable',
      'login_failed',
      'cron_started',
      'cron_finished',
      'filestore_missing',
      'http_request',
    ],
    patroni: [
      'heartbeat',
      'promoted',
      'demoted',
      'following',
      'rewind',
      'rewind_failed',
      'dcs_error',
      'paused',
      'lock_lost',
      'crash_recovery',
      'health_check_reset',
    ],
    postgresql: [
      'checkpoint_starting',
      'checkpoint_complete',
      'ready',
      'replication_terminated',
      'admin_terminated',
      'readonly_transaction',
    ],
  };
  for (const [p, events] of Object.entries(required)) {
    for (const e of events) assert.ok(seen.get(p)?.has(e), `${p}: no corpus entry produces ${e}`);
  }
});

test('every pipeline stamps event.ingested with _ingest.timestamp on every event, parse failures included', () => {
  // Log rules window on arrival time (event.ingested), so a line Filebeat ships late — the backlog
  // after an Elasticsearch outage — is still counted once. A pipeline that forgets it hides lines.
  const at = '2025-01-10T09:00:48.123456789Z';
  for (const suite of SUITES) {
    const body = loadPipeline(suite.pipeline);
    let failures = 0;
    for (const entry of loadCorpus(suite.corpus)) {
      const { doc, failure } = runPipeline(body, filebeatEvent(entry, suite.dataset, suite.role), {
        ingestTimestamp: at,
      });
      if (failure) failures++;
      assert.equal(getPath(doc, 'event.ingested').value, at, `${suite.pipeline}/${entry.name}: event.ingested`);
      assert.notEqual(
        getPath(doc, '@timestamp').value,
        at,
        `${suite.pipeline}/${entry.name}: @timestamp stays the time the line was written`,
      );
    }
    assert.ok(failures > 0 || suite.pipeline !== 'odoo', 'the corpus exercises the on_failure path');
  }
});

import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { loadOniguruma } from '../support/ingest/onig.js';
import { compileGrok, loadPatternBank } from '../support/ingest/grok.js';
import { evaluateCondition, parseCondition } from '../support/ingest/painless.js';
import { collectConditions, runPipeline, validatePipeline, type PipelineBody } from '../support/ingest/pipeline.js';
import { dateProcessorValue } from '../support/ingest/java-date.js';
import { loadPipeline } from '../support/ingest/corpus.js';

before(loadOniguruma);

describe('grok expander (Elasticsearch semantics on Oniguruma)', () => {
  test('typed and dotted captures become nested, converted fields', () => {
    const g = compileGrok(
      '%{TIMESTAMP_ISO8601:a.ts} %{POSINT:process.pid:long} %{NUMBER:x:float} %{INT:y:int} (?<raw.name>\\w+)',
    );
    assert.deepEqual(Object.fromEntries(g.match('2024-11-04 02:24:38,332 42 0.5 -7 abc')!), {
      'a.ts': '2024-11-04 02:24:38,332',
      'process.pid': 42,
      x: 0.5,
      y: -7,
      'raw.name': 'abc',
    });
  });

  test('unanchored search, like Joni matcher.search', () => {
    assert.deepEqual(Object.fromEntries(compileGrok('%{IP:ip}').match('from 10.1.2.3 ok')!), { ip: '10.1.2.3' });
  });

  test('ES definitions: TIMESTAMP_ISO8601 takes a comma fraction, IPV4 rejects 300, LOGLEVEL knows CRITICAL', () => {
    assert.ok(compileGrok('^%{TIMESTAMP_ISO8601}$').match('2025-01-10 09:13:40,003'));
    assert.equal(compileGrok('^%{IPV4}$').match('10.0.0.300'), null);
    assert.ok(compileGrok('^%{IPV6}$').match('fe80::1%eth0'));
    assert.ok(compileGrok('^%{LOGLEVEL}$').match('CRITICAL'));
    assert.equal(compileGrok('^%{POSINT}$').match('0'), null);
  });

  test('`.` does not cross newlines unless the multi-line definition is used', () => {
    assert.deepEqual(Object.fromEntries(compileGrok('^a%{GREEDYDATA:x}').match('a1\n2')!), { x: '1' });
    const multi = compileGrok('^a%{M:x}', { M: '(?:.|\\n|\\t)*' });
    assert.deepEqual(Object.fromEntries(multi.match('a1\n2\t3')!), { x: '1\n2\t3' });
  });

  test('pattern_definitions override the bank; plain groups do not shift captures', () => {
    const g = compileGrok('(a|b)(%{GREEDYDATA:x})', { GREEDYDATA: 'z+' });
    assert.deepEqual(Object.fromEntries(g.match('azzz')!), { x: 'zzz' });
  });

  test('same field in two alternation branches: the participating branch wins', () => {
    const g = compileGrok('(?:\'%{DATA:n}\'|"%{DATA:n}") end');
    assert.deepEqual(Object.fromEntries(g.match('"it\'s" end')!), { n: "it's" });
  });

  test('offsets are UTF-16 correct for non-BMP text', () => {
    assert.deepEqual(Object.fromEntries(compileGrok('🚀 %{WORD:w}').match('x 🚀 héllo')!), { w: 'héllo' });
  });

  test('refuses unknown patterns, circular references, bad types, out-of-range ints', () => {
    assert.throws(() => compileGrok('%{NOPE:x}'), /unknown pattern/);
    assert.throws(() => compileGrok('%{A}', { A: '%{B}', B: '%{A}' }), /circular/);
    assert.throws(() => compileGrok('%{INT:x:integer}'), /unsupported capture type/);
    assert.throws(() => compileGrok('%{INT:x:int}').match('2199023255'), /out of int range/);
  });

  test('vendored bank has the patterns the brief names', () => {
    const bank = loadPatternBank();
    for (const p of [
      'TIMESTAMP_ISO8601',
      'LOGLEVEL',
      'POSINT',
      'INT',
      'NUMBER',
      'BASE10NUM',
      'NOTSPACE',
      'DATA',
      'GREEDYDATA',
      'WORD',
      'IP',
      'IPV4',
      'IPV6',
      'HTTPDATE',
    ]) {
      assert.ok(bank.has(p), p);
    }
  });
});

describe('painless subset', () => {
  const ctx = { log: { logger: 'odoo.sql_db' }, message: 'bad query: x', n: null };
  test('null-safe access, comparisons, string methods, boolean logic', () => {
    assert.equal(evaluateCondition("ctx.log?.logger == 'odoo.sql_db'", ctx), true);
    assert.equal(evaluateCondition("ctx.odoo?.db == '?'", ctx), false);
    assert.equal(evaluateCondition('ctx.odoo?.db != null', ctx), false);
    assert.equal(evaluateCondition("ctx.message.startsWith('bad') && !ctx.message.contains('zzz')", ctx), true);
    assert.equal(evaluateCondition("(ctx.message.endsWith('y') || ctx.log.logger.endsWith('sql_db'))", ctx), true);
    assert.equal(evaluateCondition("ctx.message == 'it\\'s'", { message: "it's" }), true);
  });
  test('Painless failures are reproduced, not papered over', () => {
    assert.throws(() => evaluateCondition("ctx.odoo.db == '?'", ctx), /NullPointerException/);
    assert.throws(() => evaluateCondition("ctx.odoo?.db?.contains('x')", ctx), /non-boolean/);
    assert.throws(() => evaluateCondition("ctx.odoo?.db?.contains('x') && true", ctx), /cannot cast null/);
  });
  test('anything outside the subset is rejected at parse time', () => {
    for (const src of [
      'ctx.message =~ /x/',
      'ctx.a.size() > 0',
      "ctx.message.toLowerCase() == 'x'",
      "ctx['a'] == 1",
      'def x = 1',
      'ctx.a == 1',
      "params.x == 'y'",
    ]) {
      assert.throws(() => parseCondition(src), /painless subset/, src);
    }
  });
  test('every condition in the shipped pipelines is inside the subset', () => {
    for (const name of ['odoo', 'patroni', 'postgresql']) {
      const conds = collectConditions(loadPipeline(name));
      assert.ok(conds.length > 5);
      for (const c of conds) parseCondition(c);
    }
  });
});

describe('pipeline runner', () => {
  test('shipped pipelines use only emulated processors and no script processor', () => {
    for (const name of ['odoo', 'patroni', 'postgresql']) {
      const body = loadPipeline(name);
      validatePipeline(body);
      assert.ok(!JSON.stringify(body).includes('"script"'));
      assert.ok(!/[^{]\{\{[^{]/.test(JSON.stringify(body)), 'double-brace (escaping) templates');
    }
  });
  test('rejects unknown processors/options and double-brace templates', () => {
    assert.throws(() => validatePipeline({ processors: [{ script: { source: 'x' } }] }), /not emulated/);
    assert.throws(
      () => validatePipeline({ processors: [{ set: { field: 'a', value: 'b', bogus: 1 } }] }),
      /doesn't support/,
    );
    assert.throws(() => runPipeline({ processors: [{ set: { field: 'a', value: '{{b}}' } }] }, {}), /double braces/);
  });
  test('processor on_failure, ignore_failure and pipeline on_failure behave like ES', () => {
    const body: PipelineBody = {
      processors: [
        { set: { field: 'a', value: 1 } },
        { grok: { field: 'msg', patterns: ['^x'], ignore_failure: true } },
        {
          grok: {
            field: 'msg',
            patterns: ['^y'],
            on_failure: [{ set: { field: 'why', value: '{{{_ingest.on_failure_message}}}' } }],
          },
        },
        { rename: { field: 'missing', target_field: 'b' } },
        { set: { field: 'never', value: true } },
      ],
      on_failure: [
        {
          set: {
            field: 'error.message',
            value: '{{{_ingest.on_failure_processor_type}}}: {{{_ingest.on_failure_message}}}',
          },
        },
      ],
    };
    const { doc, failure } = runPipeline(body, { msg: 'zzz' });
    assert.equal(doc.a, 1);
    assert.equal(doc.why, 'Provided Grok expressions do not match field value: [zzz]');
    assert.deepEqual(doc.error, { message: 'rename: field [missing] not present as part of path [missing]' });
    assert.equal(doc.never, undefined);
    assert.equal(failure?.processorType, 'rename');
  });
  test('without on_failure the document is rejected', () => {
    assert.throws(() => runPipeline({ processors: [{ uppercase: { field: 'nope' } }] }, {}), /not present/);
  });
});

describe('date processor', () => {
  test('renders in the processor timezone with ES default output format', () => {
    assert.equal(
      dateProcessorValue('2025-01-10 09:13:40,003', ['yyyy-MM-dd HH:mm:ss,SSS'], 'UTC'),
      '2025-01-10T09:13:40.003Z',
    );
    assert.equal(
      dateProcessorValue('2025-01-10 09:13:40,003', ['yyyy-MM-dd HH:mm:ss,SSS'], 'Asia/Kolkata'),
      '2025-01-10T09:13:40.003+05:30',
    );
  });
  test('DST overlap takes the earlier offset, gap shifts forward (ZonedDateTime.ofLocal)', () => {
    assert.equal(
      dateProcessorValue('2025-10-26 02:30:00,000', ['yyyy-MM-dd HH:mm:ss,SSS'], 'Europe/Paris'),
      '2025-10-26T02:30:00.000+02:00',
    );
    assert.equal(
      dateProcessorValue('2025-03-30 02:30:00,000', ['yyyy-MM-dd HH:mm:ss,SSS'], 'Europe/Paris'),
      '2025-03-30T03:30:00.000+02:00',
    );
  });
  test('invalid timezone and unparsable dates fail', () => {
    assert.throws(
      () => dateProcessorValue('2025-01-10 09:13:40,003', ['yyyy-MM-dd HH:mm:ss,SSS'], ''),
      /empty timezone/,
    );
    assert.throws(
      () => dateProcessorValue('2025-01-10 09:13:40,003', ['yyyy-MM-dd HH:mm:ss,SSS'], 'Mars/Olympus'),
      /time-zone/,
    );
    assert.throws(
      () => dateProcessorValue('2025-02-30 09:13:40,003', ['yyyy-MM-dd HH:mm:ss,SSS'], 'UTC'),
      /invalid date/,
    );
  });
});

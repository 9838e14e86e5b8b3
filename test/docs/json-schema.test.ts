import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { configJsonSchema, renderJsonSchema, rulesJsonSchema } from '../../src/docs/json-schema.js';

const root = join(import.meta.dirname, '../..');
const fixtures = join(root, 'test/fixtures/config');
const shipped = [
  { file: 'config/odoo-ha-watch.yaml', schema: 'config' },
  { file: 'config/deploy.yaml', schema: 'config' },
  ...readdirSync(join(root, 'rules'))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({ file: `rules/${f}`, schema: 'rules' })),
];

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = { config: ajv.compile(configJsonSchema()), rules: ajv.compile(rulesJsonSchema()) };
const errorsOf = (schema: 'config' | 'rules', path: string) => {
  const ok = validators[schema](parse(readFileSync(path, 'utf8')));
  return ok ? [] : (validators[schema].errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
};

describe('editor JSON Schemas', () => {
  test('schemas/*.schema.json are generated from the current zod schemas (run `npm run docs`)', () => {
    assert.equal(readFileSync(join(root, 'schemas/config.schema.json'), 'utf8'), renderJsonSchema(configJsonSchema()));
    assert.equal(readFileSync(join(root, 'schemas/rules.schema.json'), 'utf8'), renderJsonSchema(rulesJsonSchema()));
  });

  for (const { file, schema } of shipped) {
    test(`${file} names its schema on line 1 and validates against it`, () => {
      assert.equal(
        readFileSync(join(root, file), 'utf8').split('\n')[0],
        `# yaml-language-server: $schema=../schemas/${schema}.schema.json`,
      );
      assert.deepEqual(errorsOf(schema as 'config' | 'rules', join(root, file)), []);
    });
  }

  test('the good fixtures validate; broken rule files fail like the loader', () => {
    assert.deepEqual(errorsOf('config', join(fixtures, 'good/config.yaml')), []);
    assert.deepEqual(errorsOf('rules', join(fixtures, 'good/rules.yaml')), []);
    for (const f of [
      'unknown-key-typo.yaml',
      'unknown-type.yaml',
      'missing-id.yaml',
      'bad-for.yaml',
      'unknown-defaults-key.yaml',
      'enabled-string.yaml',
      'bad-label-name.yaml',
      'rules-not-a-list.yaml',
    ]) {
      assert.notDeepEqual(errorsOf('rules', join(fixtures, 'bad-rules', f)), [], `${f} passed the schema`);
    }
    for (const f of [
      'unknown-top-key.yaml',
      'unknown-nested-key.yaml',
      'bad-severity.yaml',
      'port-as-string.yaml',
      'bad-duration.yaml',
    ]) {
      assert.notDeepEqual(errorsOf('config', join(fixtures, 'bad-config', f)), [], `${f} passed the schema`);
    }
  });
});

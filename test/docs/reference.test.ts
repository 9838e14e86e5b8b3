import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderReference } from '../../src/docs/reference.js';
import { RULE_TYPES } from '../../src/rules/registry.js';

const root = join(import.meta.dirname, '../..');

test('docs/reference.md is generated from the current schemas (run `npm run docs` after changing them)', () => {
  assert.equal(readFileSync(join(root, 'docs/reference.md'), 'utf8'), renderReference());
});

test('the reference documents every rule type and every config section', () => {
  const ref = renderReference();
  for (const t of RULE_TYPES) assert.ok(ref.includes(`### type: \`${t.type}\``), t.type);
  for (const key of [
    '`cluster.name`',
    '`evaluation.repeat`',
    '`state.path`',
    '`http.port`',
    '`notifiers.telegram.chats[].severities`',
  ])
    assert.ok(ref.includes(key), key);
});

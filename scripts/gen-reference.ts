import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configJsonSchema, renderJsonSchema, rulesJsonSchema } from '../src/docs/json-schema.js';
import { renderReference } from '../src/docs/reference.js';

const root = join(import.meta.dirname, '..');
const outputs: [string, string][] = [
  ['docs/reference.md', renderReference()],
  ['schemas/config.schema.json', renderJsonSchema(configJsonSchema())],
  ['schemas/rules.schema.json', renderJsonSchema(rulesJsonSchema())],
];
mkdirSync(join(root, 'schemas'), { recursive: true });
for (const [path, text] of outputs) {
  writeFileSync(join(root, path), text);
  process.stdout.write(`wrote ${path}\n`);
}

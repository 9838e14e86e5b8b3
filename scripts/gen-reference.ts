import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderReference } from '../src/docs/reference.js';

const target = join(import.meta.dirname, '../docs/reference.md');
writeFileSync(target, renderReference());
process.stdout.write(`wrote ${target}\n`);

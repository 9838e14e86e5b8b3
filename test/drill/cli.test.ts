import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli/main.js';

function setup(extra = '') {
  const dir = mkdtempSync(join(tmpdir(), 'ohw-drill-cli-'));
  writeFileSync(join(dir, 'rules.yaml'), 'rules: []\n');
  const file = join(dir, 'config.yaml');
  writeFileSync(file, `cluster: { name: test }\nrules: { paths: [rules.yaml] }\nstate: { path: state.db }\n${extra}`);
  return file;
}

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('drill --help and bad arguments print the usage', async () => {
  const h = await cli(['drill', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.out, /odoo-ha-watch drill switchover \[--to MEMBER\]/);
  const bad = await cli(['drill', 'app-node', 'x', '-c', setup()]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /drill app-node N/);
});

test('a drill without the sources it needs is refused (exit 3), says why, and shows in the history', async () => {
  const file = setup();
  const r = await cli(['drill', 'switchover', '--to', 'pg-node-2', '-c', file]);
  assert.equal(r.code, 3, r.out + r.err);
  assert.match(r.out, /REFUSED/);
  assert.match(r.out, /refused: sources\.patroni is not configured/);
  assert.match(r.out, /refused: drill\.write_dsn is not configured/);
  const h = await cli(['drill', 'history', '-c', file]);
  assert.equal(h.code, 0);
  assert.match(h.out, /REFUSED +switchover .*pg-node-2.*sources\.patroni is not configured/);
});

test('drill history on a fresh store says how to run one', async () => {
  const h = await cli(['drill', 'history', '-c', setup()]);
  assert.equal(h.code, 0);
  assert.match(h.out, /No drills yet/);
});

test('the drill section is validated with the rest of the config', async () => {
  const r = await cli(['check', '-c', setup('drill: { probe_table: "Robert\'); DROP TABLE x;--" }\n')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /probe_table.*lower-case table name/);
});

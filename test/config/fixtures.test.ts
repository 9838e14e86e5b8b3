import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { main } from '../../src/cli/main.js';
import { formatIssue } from '../../src/config/issues.js';
import { loadAll } from '../../src/config/load.js';

const base = join(import.meta.dirname, '../fixtures/config');
const expected = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('# expect: '))
    .map((l) => l.slice('# expect: '.length));

/** Each broken fixture names, in its own `# expect:` comments, every problem the loader must report. */
const cases = [
  ...readdirSync(join(base, 'bad-config'))
    .sort()
    .map((f) => ({
      name: `bad-config/${f}`,
      config: join(base, 'bad-config', f),
      env: {} as NodeJS.ProcessEnv,
      expectFile: join(base, 'bad-config', f),
    })),
  ...readdirSync(join(base, 'bad-rules'))
    .sort()
    .map((f) => ({
      name: `bad-rules/${f}`,
      config: join(base, 'good/config.yaml'),
      env: { CASE_RULES: `../bad-rules/${f}` } as NodeJS.ProcessEnv,
      expectFile: join(base, 'bad-rules', f),
    })),
];

describe('broken config and rule fixtures', () => {
  test('there are at least 30 of them, each expecting at least one problem', () => {
    assert.ok(cases.length >= 30, `only ${cases.length} fixtures`);
    for (const c of cases) assert.ok(expected(c.expectFile).length > 0, `${c.name} has no "# expect:" line`);
  });

  for (const c of cases) {
    test(`${c.name}: reports exactly file:line:column: message`, () => {
      const r = loadAll(c.config, { env: c.env, displayBase: base });
      assert.equal(r.ok, false, `${c.name} loaded without errors`);
      if (r.ok) return;
      assert.deepEqual(r.issues.map(formatIssue), expected(c.expectFile));
    });

    test(`${c.name}: check exits 1 and prints the problems`, async () => {
      const out: string[] = [];
      const err: string[] = [];
      const saved = process.env['CASE_RULES'];
      if (c.env['CASE_RULES']) process.env['CASE_RULES'] = c.env['CASE_RULES'];
      try {
        const code = await main(['check', '--config', c.config], { out: (s) => out.push(s), err: (s) => err.push(s) });
        assert.equal(code, 1);
        // the CLI prints paths relative to the cwd (the repo root here), the fixtures relative to their folder
        const printed = err.join('\n').replaceAll('test/fixtures/config/', '');
        for (const line of expected(c.expectFile))
          assert.ok(printed.includes(line), `missing in CLI output: ${line}\n${printed}`);
      } finally {
        if (saved === undefined) delete process.env['CASE_RULES'];
        else process.env['CASE_RULES'] = saved;
      }
    });
  }

  test('a rule id used in two files is reported at the second with the first location', () => {
    const r = loadAll(join(base, 'multi/config.yaml'), { env: {}, displayBase: base });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.issues.map(formatIssue), [
      'multi/b.yaml:5:5: duplicate rule id "shared-id" (already defined at multi/a.yaml:2:5; ids key alert state and must be unique)',
    ]);
  });

  test('every problem in every file is reported in one run', () => {
    const r = loadAll(join(base, 'bad-config/unknown-nested-key.yaml'), { env: {}, displayBase: base });
    assert.equal(r.ok, false);
    const many = loadAll(join(base, 'good/config.yaml'), {
      env: { CASE_RULES: '../bad-rules/many-problems.yaml' },
      displayBase: base,
    });
    assert.equal(many.ok, false);
    if (!many.ok) assert.equal(many.issues.length, 5);
  });
});

describe('shipped config and rules', () => {
  const root = join(import.meta.dirname, '../..');
  test('load without problems', () => {
    const r = loadAll(join(root, 'config/odoo-ha-watch.yaml'), { env: {} });
    assert.deepEqual(r.ok ? [] : r.issues.map(formatIssue), []);
    if (r.ok) assert.ok(r.loaded.rules.length > 0);
  });

  test('the real CLI process exits 0 on them and 1 on a broken fixture', async () => {
    const run = promisify(execFile);
    const cli = join(root, 'src/cli/main.ts');
    const ok = await run(
      process.execPath,
      ['--import', 'tsx', cli, 'check', '--config', join(root, 'config/odoo-ha-watch.yaml')],
      { cwd: root },
    );
    assert.match(ok.stdout, /rule\(s\) in \d+ file\(s\)/);
    await assert.rejects(
      run(
        process.execPath,
        ['--import', 'tsx', cli, 'check', '--config', join(base, 'bad-config/unknown-top-key.yaml')],
        { cwd: root },
      ),
      (e: { code: number; stderr: string }) =>
        e.code === 1 && e.stderr.includes('unknown key "clustr" (did you mean "cluster"?)'),
    );
  });
});

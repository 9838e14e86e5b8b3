import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { z } from 'zod';
import { createApp, type App } from '../../src/app.js';
import { silentLogger } from '../../src/log.js';
import { createRegistry, RULE_TYPES } from '../../src/rules/registry.js';
import { defineRuleType } from '../../src/rules/rule-type.js';
import { CapturingNotifier } from '../support/builders.js';

const root = join(import.meta.dirname, '../..');

/** Test-only rule types: one that hangs (ignoring its abort signal), one that is slow, one that counts. */
const stats = { fast: 0, slowConcurrent: 0, slowMax: 0, slowRuns: 0 };
const testTypes = [
  defineRuleType({
    type: 'test_hang',
    summary: 'hangs forever',
    source: 'hangsource',
    shape: {},
    placeholders: {},
    defaultMessage: 'x',
    recovered: () => 'clear',
    evaluate: () => new Promise(() => undefined),
  }),
  defineRuleType({
    type: 'test_slow',
    summary: 'slower than its interval',
    source: 'slow',
    shape: { ms: z.number() },
    placeholders: {},
    defaultMessage: 'x',
    recovered: () => 'clear',
    async evaluate(rule) {
      stats.slowRuns++;
      stats.slowConcurrent++;
      stats.slowMax = Math.max(stats.slowMax, stats.slowConcurrent);
      await new Promise((r) => setTimeout(r, rule.spec.ms));
      stats.slowConcurrent--;
      return { ok: true, findings: [] };
    },
  }),
  defineRuleType({
    type: 'test_count',
    summary: 'counts',
    source: 'count',
    shape: {},
    placeholders: {},
    defaultMessage: 'counted',
    recovered: () => 'clear',
    async evaluate() {
      stats.fast++;
      return { ok: true, findings: [{ labels: { n: 'x' }, values: {} }] };
    },
  }),
];
const registry = createRegistry([...RULE_TYPES, ...testTypes]);

function workspace(rules: string): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ohw-app-'));
  writeFileSync(
    join(dir, 'config.yaml'),
    `cluster: {name: t}\nrules: {paths: ["rules/*.yaml"]}\nstate: {path: state.db}\nhttp: {port: 0}\nevaluation: {failing_source_after: 1s}\n`,
  );
  mkdirSync(join(dir, 'rules'), { recursive: true });
  writeFileSync(join(dir, 'rules/a.yaml'), rules);
  return { dir, config: join(dir, 'config.yaml') };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 60_000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await wait(50);
  }
}

describe('service: scheduler, health endpoints, reload', () => {
  let app: App | undefined;
  after(async () => app?.stop());

  test('a hanging rule times out without delaying others; a slow rule never overlaps itself', async () => {
    const ws = workspace(`rules:
  - {id: hang, type: test_hang, every: 1s, timeout: 300ms}
  - {id: slow, type: test_slow, every: 1s, timeout: 5s, ms: 1500}
  - {id: count, type: test_count, every: 1s}
`);
    const notifier = new CapturingNotifier();
    app = await createApp({
      configPath: ws.config,
      registry,
      logger: silentLogger,
      notifiers: [notifier],
      httpPort: 0,
    });
    await app.start();
    await until('count rule evaluated 4 times', () => stats.fast >= 4);
    await until('slow rule ran twice', () => stats.slowRuns >= 2);
    assert.equal(stats.slowMax, 1, 'slow rule overlapped itself');

    const base = `http://127.0.0.1:${app.httpPort}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /ohw_rule_evaluations_total\{rule="hang",outcome="error"\} [1-9]/);
    assert.match(metrics, /ohw_source_errors_total\{source="hangsource"\} [1-9]/);
    assert.match(metrics, /ohw_rule_evaluations_total\{rule="count",outcome="ok"\} [1-9]/);
    assert.match(metrics, /ohw_rule_evaluation_duration_seconds_bucket\{le="0.5",rule="hang"\}/);

    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 503, 'a failing source makes the service not ready');
    const body = (await ready.json()) as { checks: { name: string; ok: boolean; detail?: string }[] };
    assert.match(body.checks.find((c) => c.name === 'sources')!.detail!, /hang: hangsource: timed out after 300ms/);

    // the hanging rule's failure becomes an alert of its own; the counting rule fired once
    await until('evaluation-failing alert notified', () =>
      notifier.sent.some((n) => n.rule.id === 'ohw-rule-evaluation-failing'),
    );
    assert.equal(notifier.sent.filter((n) => n.rule.id === 'count' && n.kind === 'firing').length, 1);

    // a broken reload keeps the running rule set and says so in /readyz
    writeFileSync(join(ws.dir, 'rules/a.yaml'), 'rules:\n  - {id: count, type: test_count, evry: 1s}\n');
    const r = await app.reload();
    assert.equal(r.ok, false);
    assert.match(r.problems[0]!, /rules\/a.yaml:2:35: unknown key "evry" \(did you mean "every"\?\)/);
    assert.deepEqual(
      app.scheduler.activeRules.map((x) => x.id),
      ['hang', 'slow', 'count'],
    );
    const notReady = (await (await fetch(`${base}/readyz`)).json()) as {
      checks: { name: string; ok: boolean; detail?: string }[];
    };
    assert.equal(notReady.checks.find((c) => c.name === 'config')!.ok, false);

    // an empty rule set is refused too: never drop to zero rules
    writeFileSync(join(ws.dir, 'rules/a.yaml'), 'rules: []\n');
    assert.equal((await app.reload()).ok, false);
    assert.equal(app.scheduler.activeRules.length, 3);

    // a good reload replaces the set
    writeFileSync(join(ws.dir, 'rules/a.yaml'), 'rules:\n  - {id: count, type: test_count, every: 1s}\n');
    assert.deepEqual(await app.reload(), { ok: true, problems: [] });
    assert.deepEqual(
      app.scheduler.activeRules.map((x) => x.id),
      ['count'],
    );
    await app.stop();
    app = undefined;
  });
});

describe('the real CLI process', () => {
  test('SIGHUP with broken rules keeps running; SIGTERM exits 0 after a graceful stop', async () => {
    const ws = workspace(
      'rules:\n  - {id: web, type: http, every: 1s, targets: [{name: a, url: "http://127.0.0.1:9/"}]}\n',
    );
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'run', '--config', ws.config],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await until('service started', () => output.includes('odoo-ha-watch started'));
    writeFileSync(join(ws.dir, 'rules/a.yaml'), 'rules:\n  - {id: web, type: htp}\n');
    child.kill('SIGHUP');
    await until('reload rejected', () => output.includes('rule reload rejected'));
    assert.match(output, /rules\/a.yaml:2:21: type: unknown rule type/);
    assert.equal(child.exitCode, null, 'the service kept running');
    child.kill('SIGTERM');
    assert.equal(await exit, 0);
    assert.match(output, /odoo-ha-watch stopped/);
  });
});

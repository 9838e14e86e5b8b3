/** The service at start-up: each preflight finding logged once, /readyz carries a `preflight` entry. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { createApp } from '../../src/app.js';
import { CapturingNotifier } from '../support/builders.js';
import { startFakePatroni } from '../support/fake-patroni.js';

type Line = { level: number; msg: string; preflight?: { source: string; severity: string; fix: string } };

async function until<T>(what: string, get: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function readyz(
  port: number,
): Promise<{ ready: boolean; checks: { name: string; ok: boolean; detail?: string }[] }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return (await res.json()) as never;
}

test('start-up: a wrong Patroni scope is logged once as an error with the fix and fails /readyz; a warning does not; a reload that fixes it clears it', async () => {
  const patroni = await startFakePatroni({ scope: 'odoo-prod', members: ['pg-node-1'] });
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const dir = mkdtempSync(join(tmpdir(), 'ohw-preflight-app-'));
  mkdirSync(join(dir, 'rules'));
  const writeConfig = (cluster: string) =>
    writeFileSync(
      join(dir, 'config.yaml'),
      [
        `cluster: {name: ${cluster}}`,
        'rules: {paths: ["rules/*.yaml"]}',
        'state: {path: state.db}',
        'http: {enabled: true, port: 0}',
        'sources:',
        `  patroni: { members: [{ name: pg-node-1, url: "${patroni.memberUrl(0)}" }] }`,
        `  etcd: { endpoints: ["http://127.0.0.1:${deadPort}"] }`,
      ].join('\n'),
    );
  writeConfig('odoo-cluster');
  writeFileSync(
    join(dir, 'rules/p.yaml'),
    'rules:\n  - { id: leader, type: patroni_leader, severity: critical, every: 1s }\n',
  );
  const lines: Line[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(JSON.parse(chunk.toString()));
        cb();
      },
    }),
  );
  const app = await createApp({
    configPath: join(dir, 'config.yaml'),
    logger,
    notifiers: [new CapturingNotifier()],
    httpPort: 0,
  });
  await app.start();
  try {
    const port = app.httpPort!;
    const entry = await until('the preflight entry', async () =>
      (await readyz(port)).checks.find((c) => c.name === 'preflight' && c.detail !== 'probing the sources'),
    );
    assert.equal(entry.ok, false);
    assert.match(
      entry.detail!,
      /^ERROR patroni: Patroni answers with scope odoo-prod but cluster\.name is odoo-cluster.* \| WARNING etcd: no etcd endpoint answered/,
    );
    const found = lines.filter((l) => l.preflight);
    assert.deepEqual(
      found.map((l) => [l.level, l.preflight!.source, l.preflight!.severity]),
      [
        [50, 'patroni', 'error'],
        [40, 'etcd', 'warning'],
      ],
    );
    assert.equal(
      found[0]!.preflight!.fix,
      'set cluster.name: odoo-prod if these are the members to watch, else point sources.patroni.members at cluster odoo-cluster',
    );
    // The rule keeps polling Patroni every second; the findings are not logged again.
    const polls = patroni.requests.length;
    await until('more Patroni polls', () => (patroni.requests.length >= polls + 8 ? true : undefined));
    assert.equal(lines.filter((l) => l.preflight).length, 2);

    writeConfig('odoo-prod');
    assert.equal((await app.reload()).ok, true);
    const fixed = await until('the preflight after the reload', async () =>
      (await readyz(port)).checks.find((c) => c.name === 'preflight' && c.detail?.startsWith('WARNING etcd')),
    );
    assert.equal(fixed.ok, true, 'a warning never fails readiness');
    assert.deepEqual(
      lines.filter((l) => l.preflight).map((l) => l.preflight!.source),
      ['patroni', 'etcd', 'etcd'],
    );
  } finally {
    await app.stop();
    await patroni.close();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app.js';
import { startFakeTelegram } from '../support/fake-telegram.js';
import { captureLogger, TOKEN } from './harness.js';

const CHAT = -100555;

test('app wiring: the configured Telegram notifier and bot start with the service, answer, report in /readyz, stop cleanly', { timeout: 30_000 }, async () => {
  const fake = await startFakeTelegram({ token: TOKEN, maxPollMs: 1000 });
  const dir = mkdtempSync(join(tmpdir(), 'ohw-tg-app-'));
  const { logger, lines } = captureLogger();
  mkdirSync(join(dir, 'rules'));
  writeFileSync(join(dir, 'rules/a.yaml'), 'rules:\n  - {id: web, type: http, every: 1h, targets: [{name: x, url: "http://127.0.0.1:9/"}]}\n');
  writeFileSync(join(dir, 'config.yaml'), [
    'cluster: {name: wired}',
    'rules: {paths: ["rules/*.yaml"]}',
    'state: {path: state.db}',
    'http: {port: 0}',
    'notifiers:',
    '  telegram:',
    `    token: "${TOKEN}"`,
    `    api_root: "${fake.apiRoot.replace(/\/$/, '')}"`,
    `    chats: [{id: ${CHAT}}]`,
  ].join('\n'));
  let app: Awaited<ReturnType<typeof createApp>> | undefined;
  try {
    app = await createApp({ configPath: join(dir, 'config.yaml'), logger, httpPort: 0 }).catch((e) => {
      throw new Error(`${e.message} ${JSON.stringify(e.issues ?? '')}`);
    });
    assert.deepEqual(app.notifiers.map((n) => n.name), ['telegram']);
    await app.start();
    await fake.waitForPolling(5000);
    const u = fake.pushCommand(CHAT, 7, '/status') as { message: { message_id: number } };
    const reply = await fake.waitForCall('sendMessage', (c) => (c.params['reply_parameters'] as { message_id?: number } | undefined)?.message_id === u.message.message_id, 5000);
    assert.match((reply.response as { result: { text: string } }).result.text, /Cluster wired/);
    const readyz = await (await fetch(`http://127.0.0.1:${app.httpPort}/readyz`)).json() as { checks: { name: string; ok: boolean }[] };
    assert.ok(readyz.checks.some((c) => c.name === 'notifier:telegram' && c.ok));
    const metrics = await (await fetch(`http://127.0.0.1:${app.httpPort}/metrics`)).text();
    assert.ok(!metrics.includes(TOKEN.split(':')[1]!));
  } finally {
    await app?.stop();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
  for (const l of lines) assert.ok(!l.includes(TOKEN.split(':')[1]!), `token in log: ${l}`);
});

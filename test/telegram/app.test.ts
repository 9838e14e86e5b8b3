import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app.js';
import { startFakeTelegram } from '../support/fake-telegram.js';
import { captureLogger, TOKEN } from './harness.js';

const CHAT = -100555;

test('app wiring: the configured Telegram notifier and bot start with the service, answer, report in /readyz, stop cleanly', {
  timeout: 30_000,
}, async () => {
  const fake = await startFakeTelegram({ token: TOKEN, maxPollMs: 1000 });
  const dir = mkdtempSync(join(tmpdir(), 'ohw-tg-app-'));
  const { logger, lines } = captureLogger();
  mkdirSync(join(dir, 'rules'));
  writeFileSync(
    join(dir, 'rules/a.yaml'),
    'rules:\n  - {id: web, type: http, every: 1h, targets: [{name: x, url: "http://127.0.0.1:9/"}]}\n',
  );
  writeFileSync(
    join(dir, 'config.yaml'),
    [
      'cluster: {name: wired}',
      'rules: {paths: ["rules/*.yaml"]}',
      'state: {path: state.db}',
      'http: {port: 0}',
      'notifiers:',
      '  telegram:',
      `    token: "${TOKEN}"`,
      `    api_root: "${fake.apiRoot.replace(/\/$/, '')}"`,
      `    chats: [{id: ${CHAT}}]`,
    ].join('\n'),
  );
  let app: Awaited<ReturnType<typeof createApp>> | undefined;
  try {
    app = await createApp({ configPath: join(dir, 'config.yaml'), logger, httpPort: 0 }).catch((e) => {
      throw new Error(`${e.message} ${JSON.stringify(e.issues ?? '')}`);
    });
    assert.deepEqual(
      app.notifiers.map((n) => n.name),
      ['telegram'],
    );
    await app.start();
    await fake.waitForPolling(5000);
    const u = fake.pushCommand(CHAT, 7, '/status') as { message: { message_id: number } };
    const reply = await fake.waitForCall(
      'sendMessage',
      (c) => (c.params['reply_parameters'] as { message_id?: number } | undefined)?.message_id === u.message.message_id,
      5000,
    );
    assert.match((reply.response as { result: { text: string } }).result.text, /Cluster wired/);
    const readyz = (await (await fetch(`http://127.0.0.1:${app.httpPort}/readyz`)).json()) as {
      checks: { name: string; ok: boolean }[];
    };
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

test('SIGHUP reload: new chats and allowed_users apply to the bot and the notifier at once; what cannot apply is refused, with the reason', {
  timeout: 30_000,
}, async () => {
  const fake = await startFakeTelegram({ token: TOKEN, maxPollMs: 1000 });
  const dir = mkdtempSync(join(tmpdir(), 'ohw-tg-reload-'));
  const { logger } = captureLogger();
  const NEW_CHAT = -100556;
  mkdirSync(join(dir, 'rules'));
  writeFileSync(
    join(dir, 'rules/a.yaml'),
    'rules:\n  - {id: web, type: http, every: 1h, targets: [{name: x, url: "http://127.0.0.1:9/"}]}\n',
  );
  const write = (o: { chats: number[]; users: number[]; token?: string }) =>
    writeFileSync(
      join(dir, 'config.yaml'),
      [
        'cluster: {name: wired}',
        'rules: {paths: ["rules/*.yaml"]}',
        'state: {path: state.db}',
        'http: {enabled: false}',
        'notifiers:',
        '  telegram:',
        `    token: "${o.token ?? TOKEN}"`,
        `    api_root: "${fake.apiRoot.replace(/\/$/, '')}"`,
        `    chats: [${o.chats.map((c) => `{id: ${c}}`).join(', ')}]`,
        `    allowed_users: [${o.users.join(', ')}]`,
      ].join('\n'),
    );
  const ask = async (chat: number, user: number, text: string) => {
    const mark = fake.mark();
    const u = fake.pushCommand(chat, user, text) as { message: { message_id: number } };
    const r = await fake.waitForCall(
      'sendMessage',
      (c) => (c.params['reply_parameters'] as { message_id?: number } | undefined)?.message_id === u.message.message_id,
      5000,
      { after: mark },
    );
    return (r.response as { result: { text: string } }).result.text;
  };
  write({ chats: [CHAT], users: [1] });
  let app: Awaited<ReturnType<typeof createApp>> | undefined;
  try {
    app = await createApp({ configPath: join(dir, 'config.yaml'), logger });
    await app.start();
    await fake.waitForPolling(5000);
    assert.equal(await ask(CHAT, 2, '/ack abcdef'), 'Not authorized to change alerts.');
    assert.equal(await ask(NEW_CHAT, 2, '/status'), 'Not authorized.');

    write({ chats: [CHAT, NEW_CHAT], users: [2] });
    assert.deepEqual(await app.reload(), { ok: true, problems: [] });
    assert.equal(
      await ask(CHAT, 1, '/ack abcdef'),
      'Not authorized to change alerts.',
      'a removed user lost the right at once',
    );
    assert.match(await ask(CHAT, 2, '/ack abcdef'), /No alert abcdef/);
    assert.match(await ask(NEW_CHAT, 2, '/status'), /Cluster wired/);
    const n = {
      key: 'k',
      kind: 'firing',
      cluster: 'wired',
      rule: { id: 'web', name: 'web', type: 'http', severity: 'critical' },
      commonLabels: {},
      alerts: [],
      at: 0,
    } as const;
    assert.deepEqual(
      app.notifiers[0]!.receivers({
        ...n,
        alerts: [
          { fingerprint: 'f', shortId: 'f', labels: {}, values: {}, message: 'm', activeSince: 0, repeat: false },
        ],
      }),
      [`telegram:${CHAT}`, `telegram:${NEW_CHAT}`],
    );

    write({ chats: [CHAT], users: [1], token: '111:other-token' });
    const refused = await app.reload();
    assert.equal(refused.ok, false);
    assert.match(refused.problems.join('\n'), /notifiers\.telegram\.token changed: restart the service/);
    assert.match(await ask(NEW_CHAT, 2, '/status'), /Cluster wired/, 'the refused reload changed nothing');
    assert.match(await ask(CHAT, 2, '/ack abcdef'), /No alert abcdef/);
  } finally {
    await app?.stop();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

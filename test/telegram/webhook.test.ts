import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { TelegramBot } from '../../src/bot/bot.js';
import { authPolicy } from '../../src/bot/auth.js';
import { configSchema } from '../../src/config/schema.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { startFakeTelegram } from '../support/fake-telegram.js';
import { captureLogger, TOKEN } from './harness.js';

const CHAT = -100444;
const SECRET = 'webhook-secret-token-0123456789';

test('webhook mode: setWebhook with secret_token; only requests carrying the secret are handled', {
  timeout: 20_000,
}, async () => {
  const fake = await startFakeTelegram({ token: TOKEN });
  const store = new SqliteStore(':memory:');
  const { logger } = captureLogger();
  const config = configSchema.parse({
    cluster: { name: 'hooked' },
    notifiers: { telegram: { token: TOKEN, chats: [{ id: CHAT }] } },
  });
  const bot = new TelegramBot({
    token: TOKEN,
    apiRoot: fake.apiRoot,
    mode: 'webhook',
    webhook: { url: 'https://alerts.example.test/telegram/hook', listen: '127.0.0.1', port: 0, secret_token: SECRET },
    auth: () => authPolicy([CHAT]),
    logger,
    deps: {
      store,
      config: () => config,
      rules: () => [],
      now: Date.now,
      logger,
      chats: () => config.notifiers.telegram!.chats,
      announce: async () => undefined,
      status: async () => ({ cluster: 'hooked', at: Date.now(), alerts: { firing: 0, pending: 0 }, sources: [] }),
    },
  });
  try {
    await bot.start();
    const set = await fake.waitForCall('setWebhook', () => true, 3000);
    assert.equal(set.params['url'], 'https://alerts.example.test/telegram/hook');
    assert.equal(set.params['secret_token'], SECRET);
    assert.equal(fake.callsOf('getUpdates').length, 0, 'no polling in webhook mode');
    const port = (bot.bot as unknown as { webhookServer: { address(): AddressInfo } }).webhookServer.address().port;
    const update = {
      update_id: 1,
      message: {
        message_id: 5,
        date: Math.floor(Date.now() / 1000),
        chat: { id: CHAT, type: 'supergroup', title: 'x' },
        from: { id: 9, is_bot: false, first_name: 'A' },
        text: '/status',
        entities: [{ type: 'bot_command', offset: 0, length: 7 }],
      },
    };
    const post = (headers: Record<string, string>) =>
      fetch(`http://127.0.0.1:${port}/telegram/hook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(update),
      });
    const refused = await post({ 'x-telegram-bot-api-secret-token': 'wrong' });
    assert.notEqual(refused.status, 200);
    assert.equal(fake.callsOf('sendMessage').length, 0);
    const ok = await post({ 'x-telegram-bot-api-secret-token': SECRET });
    assert.equal(ok.status, 200);
    const reply = await fake.waitForCall('sendMessage', () => true, 3000);
    assert.match(String(reply.params['text']), /Cluster hooked/);
  } finally {
    await bot.stop();
    await fake.close();
    await store.close();
  }
});

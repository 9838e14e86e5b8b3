import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Alert } from '../../src/alerts/alert.js';
import { configSchema } from '../../src/config/schema.js';
import { createTelegramBot } from '../../src/bot/build.js';
import { STALE_REPLY, type TelegramBot } from '../../src/bot/bot.js';
import type { Rule } from '../../src/rules/rule-type.js';
import { createSources } from '../../src/sources/sources.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { startFakeTelegram, type FakeTelegram } from '../support/fake-telegram.js';
import { captureLogger, firingAlert, TOKEN } from './harness.js';

const ONCALL = -100101; // criticals of member pg1 only
const TEAM = -100102; // warnings only
const ADMIN = -100103; // everything, admin
const ALICE = 2001;

const rule = (id: string, severity: Rule['severity']): Rule => ({
  id,
  type: 'http',
  name: id,
  severity,
  for: 0,
  keepFiringFor: 0,
  repeat: 0,
  timeout: 1000,
  labels: {},
  message: id,
  enabled: true,
  spec: {},
  origin: { file: 'r.yaml', line: 1, col: 1 },
});

function config(apiRoot: string) {
  return configSchema.parse({
    notifiers: {
      telegram: {
        token: TOKEN,
        api_root: apiRoot,
        stale_update_age: '2m',
        chats: [
          { id: ONCALL, severities: ['critical'], matchers: { member: 'pg1' } },
          { id: TEAM, severities: ['warning'] },
          { id: ADMIN, admin: true },
        ],
      },
    },
  });
}

interface Ctx {
  fake: FakeTelegram;
  store: SqliteStore;
  bot: TelegramBot;
  skewMs: number;
}

async function setup(before?: (c: Ctx) => void): Promise<Ctx> {
  const c = { skewMs: 0 } as Ctx;
  c.fake = await startFakeTelegram({ token: TOKEN, maxPollMs: 1000, now: () => Date.now() - c.skewMs });
  c.store = new SqliteStore(':memory:');
  const { logger } = captureLogger();
  const cfg = config(c.fake.apiRoot);
  c.bot = createTelegramBot({
    config: () => cfg,
    store: c.store,
    sources: createSources(cfg, logger),
    rules: () => [rule('pg-down', 'critical'), rule('lag', 'warning')],
    notifiers: [],
    logger,
    now: Date.now,
  })!;
  before?.(c);
  await c.bot.start();
  await c.fake.waitForPolling(3000);
  return c;
}

async function teardown(c: Ctx) {
  await c.bot.stop();
  await c.fake.close();
  await c.store.close();
}

async function upsert(store: SqliteStore, ...alerts: Alert[]) {
  await store.commit({ upserts: alerts, deletes: [], transitions: [], outbox: [] });
}

async function ask(c: Ctx, chat: number, text: string): Promise<string> {
  const mark = c.fake.mark();
  const u = c.fake.pushCommand(chat, ALICE, text) as { message: { message_id: number } };
  const call = await c.fake.waitForCall(
    'sendMessage',
    (x) => (x.params['reply_parameters'] as { message_id?: number } | undefined)?.message_id === u.message.message_id,
    3000,
    { after: mark },
  );
  return (call.response as { result: { text: string } }).result.text;
}

async function press(c: Ctx, chat: number, data: string) {
  const mark = c.fake.mark();
  const u = c.fake.pushCallback(chat, ALICE, data, 1);
  const answer = await c.fake.waitForCall(
    'answerCallbackQuery',
    (x) => x.params['callback_query_id'] === u.callback_query.id,
    3000,
    { after: mark },
  );
  return { answer: String(answer.params['text']), mark };
}

describe('silence and ack: exact alerts, only where they are sent', () => {
  let c: Ctx;
  before(async () => {
    c = await setup();
  });
  after(async () => {
    await teardown(c);
  });

  test('an ambiguous short id is refused with the candidates listed; the full fingerprint acts', async () => {
    const a = {
      ...firingAlert('pg-down', { member: 'pg1', n: '1' }),
      fingerprint: 'abcdef0000000001',
      shortId: 'abcdef',
    };
    const b = {
      ...firingAlert('pg-down', { member: 'pg1', n: '2' }),
      fingerprint: 'abcdef0000000002',
      shortId: 'abcdef',
    };
    await upsert(c.store, a, b);
    const reply = await ask(c, ADMIN, '/ack abcdef');
    assert.match(reply, /abcdef matches 2 alerts; nothing was changed/);
    assert.ok(reply.includes('abcdef0000000001') && reply.includes('abcdef0000000002'), reply);
    assert.match(await ask(c, ADMIN, '/silence abcdef 1h'), /matches 2 alerts/);
    assert.equal((await c.store.listSilences()).length, 0);
    assert.equal((await c.store.findAlert('abcdef0000000001'))!.ackedBy, undefined);
    assert.match(await ask(c, ADMIN, '/ack abcdef0000000002'), /acknowledged/);
    assert.equal((await c.store.findAlert('abcdef0000000002'))!.ackedBy, 'User2001 (id 2001)');
    assert.equal((await c.store.findAlert('abcdef0000000001'))!.ackedBy, undefined);
    // A button carries the full fingerprint: it acts on its own alert, not on the first one with the prefix.
    const { mark } = await press(c, ADMIN, 'ack:abcdef0000000001');
    await c.fake.waitForCall('editMessageText', () => true, 3000, { after: mark }); // the outcome is shown once acked
    assert.equal((await c.store.findAlert('abcdef0000000001'))!.ackedBy, 'User2001 (id 2001)');
  });

  test('a chat acts only on alerts routed to it; an admin chat on all', async () => {
    const crit = firingAlert('pg-down', { member: 'pg1', z: 'scope' });
    await upsert(c.store, crit);
    assert.match(await ask(c, TEAM, `/ack ${crit.fingerprint}`), /is not sent to this chat.*Nothing was changed/);
    assert.match((await press(c, TEAM, `sil:${crit.fingerprint}:1h`)).answer, /is not sent to this chat/);
    assert.match(await ask(c, TEAM, '/silence pg-down 1h'), /Rule pg-down \(critical\) sends nothing to this chat/);
    assert.equal((await c.store.listSilences()).length, 0);
    // ONCALL gets pg-down only for member=pg1: its rule-wide silence carries that matcher.
    const reply = await ask(c, ONCALL, '/silence pg-down 1h');
    assert.match(reply, /Silenced the alerts of rule pg-down sent to this chat/);
    const [s] = await c.store.listSilences();
    assert.deepEqual(s!.matchers, { member: 'pg1' });
    assert.match(await ask(c, ADMIN, `/ack ${crit.fingerprint}`), /acknowledged/);
  });

  test('a new silence is announced in the chats of the alerts it mutes', async () => {
    const warn = { ...firingAlert('lag', { member: 'pg3' }), severity: 'warning' as const };
    await upsert(c.store, warn);
    const mark = c.fake.mark();
    assert.match(await ask(c, ADMIN, `/silence ${warn.shortId} 2h disk swap`), /Silenced alert/);
    const ann = await c.fake.waitForCall('sendMessage', (x) => String(x.params['chat_id']) === String(TEAM), 3000, {
      after: mark,
    });
    assert.match(
      (ann.response as { result: { text: string } }).result.text,
      /Silence added by User2001 \(id 2001\): rule lag member=pg3\nuntil .* mutes 1 active alert\(s\) · disk swap/,
    );
    assert.equal(
      c.fake.calls
        .slice(mark)
        .filter((x) => x.method === 'sendMessage' && String(x.params['chat_id']) === String(ONCALL)).length,
      0,
      'not announced where the alert is not sent',
    );
  });

  test('a button press is answered before the change is made', async () => {
    const a = firingAlert('pg-down', { member: 'pg1', z: 'order' });
    await upsert(c.store, a);
    const answeredWhenAcked: number[] = [];
    const ack = c.store.ack.bind(c.store);
    c.store.ack = async (...args) => {
      answeredWhenAcked.push(c.fake.callsOf('answerCallbackQuery').length);
      return ack(...args);
    };
    try {
      const before = c.fake.callsOf('answerCallbackQuery').length;
      const { answer, mark } = await press(c, ONCALL, `ack:${a.fingerprint}`);
      assert.match(answer, /Acknowledging/);
      await c.fake.waitForCall('editMessageText', () => true, 3000, { after: mark });
      assert.deepEqual(answeredWhenAcked, [before + 1], 'the answer was already sent when the ack was written');
    } finally {
      c.store.ack = ack;
    }
  });
});

describe('after a restart: updates sent while the service was down', () => {
  test('an old command and a waiting button press are answered "ignored" and not run; a fresh command runs', async () => {
    const c = await setup((x) => {
      x.skewMs = 10 * 60_000; // sent 10 min ago
      x.fake.pushCommand(ADMIN, ALICE, '/silence pg-down 1h');
      x.skewMs = 0;
      x.fake.pushCallback(ADMIN, ALICE, `sil:${'a'.repeat(16)}:1h`, 1);
      x.fake.pushCommand(ADMIN, ALICE, '/help');
    });
    try {
      const stale = await c.fake.waitForCall(
        'sendMessage',
        (x) => String(x.params['text']).startsWith(STALE_REPLY),
        3000,
      );
      assert.match(String(stale.params['text']), /send it again if still needed/);
      const cb = await c.fake.waitForCall('answerCallbackQuery', () => true, 3000);
      assert.match(String(cb.params['text']), new RegExp(STALE_REPLY));
      await c.fake.waitForCall('sendMessage', (x) => /commands:/.test(String(x.params['text'])), 3000);
      assert.equal((await c.store.listSilences()).length, 0, 'the old /silence was not run');
      assert.equal(c.fake.pendingUpdates().length, 0, 'all three were confirmed');
    } finally {
      await teardown(c);
    }
  });
});

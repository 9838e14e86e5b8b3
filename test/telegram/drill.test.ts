/** /drill over real HTTP (telegraf ↔ the loopback fake Bot API): admin gate, confirmation button naming the action, expiry, report. */
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { createTelegramBot } from '../../src/bot/build.js';
import type { TelegramBot } from '../../src/bot/bot.js';
import type { DrillRequest } from '../../src/drill/run.js';
import type { DrillReport } from '../../src/drill/types.js';
import { createSources } from '../../src/sources/sources.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { startFakeTelegram, type FakeTelegram } from '../support/fake-telegram.js';
import { captureLogger, TOKEN } from './harness.js';

const CHAT = -100555;
const ADMIN = 2001;
const OPERATOR = 2002; // may ack/silence, not drill

let fake: FakeTelegram;
let bot: TelegramBot;
let store: SqliteStore;
let clock = Date.now();
const runs: DrillRequest[] = [];

function report(req: DrillRequest): DrillReport {
  return {
    id: '20261206-abcdef',
    kind: req.kind,
    subject: 'pg-node-1 → pg-node-2',
    by: req.by,
    startedAt: clock,
    endedAt: clock + 12_000,
    outcome: 'PASS',
    reasons: [],
    lines: [
      {
        name: 'write RTO (longest gap without an acked write)',
        valueMs: 4200,
        targetMs: 10_000,
        target: '< 10 s',
        pass: true,
      },
    ],
    timeline: [{ t: 2000, text: 'switchover requested' }],
    silences: [],
  };
}

async function ask(text: string, user: number) {
  const mark = fake.mark();
  const u = fake.pushCommand(CHAT, user, text) as { message: { message_id: number } };
  const call = await fake.waitForCall(
    'sendMessage',
    (x) => (x.params['reply_parameters'] as { message_id?: number } | undefined)?.message_id === u.message.message_id,
    3000,
    { after: mark },
  );
  const result = (
    call.response as {
      result: {
        text: string;
        message_id: number;
        reply_markup?: { inline_keyboard: { text: string; callback_data: string }[][] };
      };
    }
  ).result;
  return result;
}

async function press(user: number, data: string, messageId: number) {
  const mark = fake.mark();
  const u = fake.pushCallback(CHAT, user, data, messageId);
  const answer = await fake.waitForCall(
    'answerCallbackQuery',
    (x) => x.params['callback_query_id'] === u.callback_query.id,
    3000,
    { after: mark },
  );
  return { answer: String(answer.params['text']), mark };
}

describe('/drill in the chat', () => {
  before(async () => {
    fake = await startFakeTelegram({ token: TOKEN, maxPollMs: 1000 });
    store = new SqliteStore(':memory:');
    const { logger } = captureLogger();
    const config = configSchema.parse({
      cluster: { name: 'odoo-prod' },
      notifiers: {
        telegram: { token: TOKEN, api_root: fake.apiRoot, chats: [{ id: CHAT }], allowed_users: [ADMIN, OPERATOR] },
      },
      drill: { admin_users: [ADMIN], confirm_within: '30s' },
    });
    bot = createTelegramBot({
      config: () => config,
      store,
      sources: createSources(config, logger),
      rules: () => [],
      notifiers: [],
      logger,
      now: () => clock,
    })!;
    const deps = (bot as unknown as { o: { deps: { runDrill?: (r: DrillRequest) => Promise<DrillReport> } } }).o.deps;
    deps.runDrill = async (req) => {
      runs.push(req);
      const r = report(req);
      await store.saveDrill(r);
      return r;
    };
    await bot.start();
    await fake.waitForPolling(3000);
  });
  after(async () => {
    await bot.stop();
    await fake.close();
    await store.close();
  });
  beforeEach(() => {
    runs.length = 0;
    clock = Date.now();
  });

  test('/drill is registered and a non-admin is refused without a button', async () => {
    assert.ok((fake.commands() as { command: string }[]).some((c) => c.command === 'drill'));
    const r = await ask('/drill switchover', OPERATOR);
    assert.match(r.text, /Not authorized: drills are limited to the users in drill\.admin_users/);
    assert.equal(r.reply_markup, undefined);
  });

  test('an admin gets a confirmation naming what will happen; the press runs it and the report is posted', async () => {
    const r = await ask('/drill switchover pg-node-2', ADMIN);
    assert.match(r.text, /Planned switchover of the primary .* → pg-node-2 through Patroni's REST API/);
    assert.match(r.text, /Muted for the drill .*patroni-switchover/);
    assert.match(r.text, /expires at/);
    const go = r.reply_markup!.inline_keyboard[0]![0]!;
    assert.match(go.text, /Run: switchover .*→ pg-node-2/);
    assert.equal(runs.length, 0, 'nothing runs before the press');

    // Another user in the chat (not an admin) cannot press it.
    assert.match((await press(OPERATOR, go.callback_data, r.message_id)).answer, /Not authorized/);
    assert.equal(runs.length, 0);

    const { answer, mark } = await press(ADMIN, go.callback_data, r.message_id);
    assert.equal(answer, 'Drill starting…');
    const posted = await fake.waitForCall(
      'sendMessage',
      (x) => String(x.params['text']).includes('Drill switchover'),
      3000,
      { after: mark },
    );
    assert.match(String(posted.params['text']), /PASS/);
    assert.deepEqual(
      runs.map((x) => ({ kind: x.kind, to: (x as { to?: string }).to })),
      [{ kind: 'switchover', to: 'pg-node-2' }],
    );
    await fake.waitForCall('editMessageText', (x) => x.params['message_id'] === r.message_id, 3000, { after: mark });
    const edited = fake.messages(CHAT).find((m) => m.messageId === r.message_id)!;
    assert.match(edited.text, /Drill started by/);

    // Single use: pressing again does nothing.
    assert.match((await press(ADMIN, go.callback_data, r.message_id)).answer, /no longer valid/);
    assert.equal(runs.length, 1);
    assert.match((await ask('/drill history', OPERATOR)).text, /PASS +switchover +pg-node-1 → pg-node-2/);
  });

  test('an expired confirmation starts nothing and says so', async () => {
    const r = await ask('/drill app-node 1', ADMIN);
    assert.match(r.text, /Stop Odoo node 1/);
    clock += 31_000;
    const { answer, mark } = await press(ADMIN, r.reply_markup!.inline_keyboard[0]![0]!.callback_data, r.message_id);
    assert.match(answer, /Expired: nothing was started/);
    await fake.waitForCall('editMessageText', (x) => x.params['message_id'] === r.message_id, 3000, { after: mark });
    assert.match(fake.messages(CHAT).find((m) => m.messageId === r.message_id)!.text, /confirmation expired/);
    assert.equal(runs.length, 0);
  });

  test('Cancel starts nothing', async () => {
    const r = await ask('/drill switchover', ADMIN);
    assert.match(
      (await press(ADMIN, r.reply_markup!.inline_keyboard[0]![1]!.callback_data, r.message_id)).answer,
      /Cancelled/,
    );
    assert.equal(runs.length, 0);
  });
});

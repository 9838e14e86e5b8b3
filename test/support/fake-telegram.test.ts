import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Telegraf, TelegramError, Markup } from 'telegraf';
import {
  startFakeTelegram,
  telegramHtmlLength,
  validateTelegramHtml,
  parseTelegramHtml,
  type FakeTelegram,
  type FakeTelegramOptions,
} from './fake-telegram.js';

const CHAT = 42;
const USER = 42;

interface Running {
  bot: Telegraf;
  /** Settles when telegraf's polling loop ends; never left unhandled. */
  done: Promise<unknown>;
  outcome: () => { settled: boolean; error?: unknown };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fakeServer(opts?: FakeTelegramOptions): Promise<FakeTelegram> {
  const fake = await startFakeTelegram(opts);
  cleanups.push(() => fake.close());
  return fake;
}

function newBot(fake: FakeTelegram): Telegraf {
  const bot = new Telegraf(fake.token, { telegram: { apiRoot: fake.apiRoot } });
  // telegraf's default handler rethrows, which would end polling and hide the assertion that failed.
  bot.catch((err) => {
    handlerErrors.push(err);
  });
  return bot;
}
const handlerErrors: unknown[] = [];

/** `await bot.launch()` only returns when polling stops, so launch in the background and wait for the held poll. */
async function launch(fake: FakeTelegram, bot: Telegraf): Promise<Running> {
  const state: { settled: boolean; error?: unknown } = { settled: false };
  const done = bot
    .launch({}, () => undefined)
    .then(
      () => {
        state.settled = true;
      },
      (error: unknown) => {
        state.settled = true;
        state.error = error;
      },
    );
  const running: Running = { bot, done, outcome: () => state };
  cleanups.push(async () => {
    if (!state.settled) {
      try {
        bot.stop('test cleanup');
      } catch {
        /* already stopped */
      }
    }
    await withTimeout(done, 3000, 'bot polling did not stop');
  });
  await fake.waitForPolling(3000);
  return running;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        t = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(t);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('telegram HTML rules', () => {
  test('accepts the supported subset and escaped text', () => {
    for (const ok of [
      'a &lt; b',
      '<b>bold</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u> <ins>i</ins> <s>s</s> <strike>s</strike> <del>d</del>',
      '<span class="tg-spoiler">x</span><tg-spoiler>y</tg-spoiler>',
      '<a href="https://example.com/?a=1&amp;b=2">link</a>',
      '<code>x</code><pre>y</pre><pre><code class="language-python">z</code></pre>',
      '<blockquote>q</blockquote><blockquote expandable>q</blockquote>',
      '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
      'AT&T & co &nbsp; &#33; &#x21;',
      '<b>nested <i>ok</i></b>',
    ]) {
      assert.equal(validateTelegramHtml(ok), null, ok);
    }
  });

  test('rejects what the server rejects, with its messages', () => {
    assert.equal(validateTelegramHtml('<b>x'), 'Can\'t find end tag corresponding to start tag "b"');
    assert.equal(validateTelegramHtml('a < b'), 'Unsupported start tag "" at byte offset 2');
    assert.match(
      validateTelegramHtml('<b><i>x</b></i>') ?? '',
      /^Unmatched end tag at byte offset 7, expected "<\/i>", found "<\/b>"/,
    );
    assert.equal(validateTelegramHtml('<br>'), 'Unsupported start tag "br" at byte offset 0');
    assert.equal(validateTelegramHtml('<span>x</span>'), 'Tag "span" must have class "tg-spoiler" at byte offset 0');
    assert.equal(validateTelegramHtml('x</b>'), 'Unexpected end tag at byte offset 1');
    assert.equal(validateTelegramHtml('<a href="x>y</a>'), 'Unclosed end of attribute value at byte offset 8');
    // Offsets are UTF-8 bytes: 'é' is two bytes.
    assert.equal(validateTelegramHtml('é<x>'), 'Unsupported start tag "x" at byte offset 2');
  });

  test('length is counted after parsing, in UTF-16 units', () => {
    assert.equal(telegramHtmlLength('<b>a &lt; b</b>'), 5);
    assert.equal(telegramHtmlLength('&amp;&#128512;'), 3); // '&' + a surrogate pair
    assert.throws(() => telegramHtmlLength('<b>'), /Can't find end tag/);
    const parsed = parseTelegramHtml('x <b>bold <i>it</i></b> <a href="https://e.x">l</a>');
    assert.ok(parsed.ok);
    assert.equal(parsed.text, 'x bold it l');
    assert.deepEqual(parsed.entities, [
      { type: 'bold', offset: 2, length: 7 },
      { type: 'italic', offset: 7, length: 2 },
      { type: 'text_link', offset: 10, length: 1, url: 'https://e.x' },
    ]);
  });
});

describe('fake Telegram Bot API with the real telegraf client', () => {
  test('launch: getMe, deleteWebhook, then one held long poll (no busy loop)', async () => {
    const fake = await fakeServer();
    const bot = newBot(fake);
    await launch(fake, bot);
    assert.deepEqual(
      fake.calls.slice(0, 2).map((c) => c.method),
      ['getMe', 'deleteWebhook'],
    );
    assert.equal(bot.botInfo?.username, 'fake_test_bot');
    const before = fake.callsOf('getUpdates').length;
    await sleep(1500);
    // Answered getUpdates calls in 1.5 s idle: telegraf asks for timeout=50, so the poll is still held.
    assert.equal(fake.callsOf('getUpdates').length - before, 0);
    assert.equal(fake.calls.filter((c) => c.method !== 'getUpdates').length, 2);
  });

  test('/status reaches bot.command and the HTML reply is stored; offsets confirm updates', async () => {
    const fake = await fakeServer({ now: () => 1_730_687_078_332 });
    const bot = newBot(fake);
    bot.command('status', (ctx) => ctx.replyWithHTML('<b>All good</b> &amp; steady'));
    await launch(fake, bot);

    const update = fake.pushCommand(CHAT, USER, '/status');
    const call = await fake.waitForCall('sendMessage', (c) => c.params['chat_id'] === CHAT);
    assert.equal(call.status, 200);
    assert.equal(call.params['parse_mode'], 'HTML');
    const [msg] = fake.messages(CHAT);
    assert.ok(msg);
    assert.equal(msg.rawText, '<b>All good</b> &amp; steady');
    assert.equal(msg.text, 'All good & steady');
    assert.deepEqual(msg.entities, [{ type: 'bold', offset: 0, length: 8 }]);
    assert.equal(msg.date, 1_730_687_078); // seconds, not milliseconds
    assert.equal(msg.messageId, 2); // the user's /status was message 1 in this chat

    // The next held poll confirms the update by asking for update_id + 1, so it is never delivered twice.
    await fake.waitForPolling();
    assert.equal(fake.heldPoll()?.offset, update.update_id + 1);
    assert.deepEqual(fake.pendingUpdates(), []);
    assert.deepEqual(handlerErrors, []);
  });

  test('group command addressed to the bot (/status@username) reaches the handler', async () => {
    const fake = await fakeServer();
    const bot = newBot(fake);
    bot.command('status', (ctx) =>
      ctx.reply(`status for ${ctx.chat.type}`, { reply_parameters: { message_id: ctx.message.message_id } }),
    );
    await launch(fake, bot);
    const GROUP = -1001234567890;
    const u = fake.pushCommand(GROUP, USER, '/status@fake_test_bot now', { chatType: 'supergroup' });
    assert.deepEqual((u as { message?: { entities?: unknown } }).message?.entities, [
      { type: 'bot_command', offset: 0, length: 21 },
    ]);
    await fake.waitForCall('sendMessage', (c) => c.params['chat_id'] === GROUP);
    const [reply] = fake.messages(GROUP);
    assert.equal(reply?.text, 'status for supergroup');
    assert.equal(reply?.replyParameters && (reply.replyParameters as { message_id: number }).message_id, 1);
    assert.equal(
      (reply!.message as { reply_to_message?: { text?: string } }).reply_to_message?.text,
      '/status@fake_test_bot now',
    );
  });

  test('callback query reaches bot.action, which answers it and edits the message', async () => {
    const fake = await fakeServer();
    const bot = newBot(fake);
    bot.action(/^ack:(\d+)$/, async (ctx) => {
      await ctx.answerCbQuery('Acknowledged');
      await ctx.editMessageText(`<i>acked #${ctx.match[1]}</i>`, { parse_mode: 'HTML' });
    });
    await launch(fake, bot);

    const sent = await bot.telegram.sendMessage(CHAT, '<b>ALERT</b> replica lag', {
      parse_mode: 'HTML',
      ...Markup.inlineKeyboard([Markup.button.callback('Ack', 'ack:7')]),
    });
    assert.deepEqual(fake.messages(CHAT)[0]?.replyMarkup, {
      inline_keyboard: [[{ text: 'Ack', callback_data: 'ack:7', hide: false }]],
    });

    const cb = fake.pushCallback(CHAT, USER, 'ack:7', sent.message_id);
    const edit = await fake.waitForCall('editMessageText');
    assert.equal(edit.status, 200);
    assert.deepEqual(fake.callbackAnswers, [{ callback_query_id: cb.callback_query.id, text: 'Acknowledged' }]);
    const [msg] = fake.messages(CHAT);
    assert.equal(msg?.text, 'acked #7');
    assert.equal(msg?.history[0]?.rawText, '<b>ALERT</b> replica lag');
    assert.equal(msg?.replyMarkup, undefined, 'an edit without reply_markup drops the keyboard');
    assert.ok(msg?.editDate);

    // A second identical edit is refused the way the real API refuses it.
    await assert.rejects(
      bot.telegram.editMessageText(CHAT, sent.message_id, undefined, '<i>acked #7</i>', { parse_mode: 'HTML' }),
      (e: unknown) => e instanceof TelegramError && e.code === 400 && /message is not modified/.test(e.description),
    );
    // Answering the same query twice is an error too.
    await assert.rejects(bot.telegram.answerCbQuery(cb.callback_query.id), /query is too old/);
  });

  test('injected 429 surfaces as TelegramError 429 with retry_after; telegraf does not retry sendMessage', async () => {
    const fake = await fakeServer();
    const bot = newBot(fake);
    fake.fail('sendMessage', { status: 429, retryAfter: 3 });
    await assert.rejects(bot.telegram.sendMessage(CHAT, 'hi'), (e: unknown) => {
      assert.ok(e instanceof TelegramError);
      assert.equal(e.code, 429);
      assert.equal(e.parameters?.retry_after, 3);
      assert.equal(e.description, 'Too Many Requests: retry after 3');
      return true;
    });
    assert.equal(fake.callsOf('sendMessage').length, 1);
    const ok = await bot.telegram.sendMessage(CHAT, 'hi');
    assert.equal(ok.text, 'hi');
  });

  test('5xx: JSON 500 and an nginx 502 page both become TelegramError with the HTTP status', async () => {
    const fake = await fakeServer();
    const bot = newBot(fake);
    fake.fail('sendMessage', { status: 500 });
    fake.fail('sendMessage', { status: 502 });
    await assert.rejects(
      bot.telegram.sendMessage(CHAT, 'x'),
      (e: unknown) => e instanceof TelegramError && e.code === 500,
    );
    await assert.rejects(
      bot.telegram.sendMessage(CHAT, 'x'),
      (e: unknown) => e instanceof TelegramError && e.code === 502 && e.description === 'Bad Gateway',
    );
  });

  test('polling retries getUpdates after a 429 using retry_after', async () => {
    const fake = await fakeServer();
    const bot = newBot(fake);
    fake.fail('getUpdates', { status: 429, retryAfter: 1 });
    const started = Date.now();
    await launch(fake, bot);
    const polls = fake.callsOf('getUpdates');
    assert.equal(polls[0]?.status, 429);
    assert.ok(Date.now() - started >= 950, 'second poll came after retry_after');
  });

  test('HTML validation and length limits are enforced on sendMessage', async () => {
    const fake = await fakeServer();
    const bot = newBot(fake);
    const html = { parse_mode: 'HTML' } as const;
    const rejectsWith = (p: Promise<unknown>, code: number, description: string): Promise<void> =>
      assert.rejects(p, (e: unknown) => e instanceof TelegramError && e.code === code && e.description === description);

    await rejectsWith(
      bot.telegram.sendMessage(CHAT, '<b>x', html),
      400,
      'Bad Request: can\'t parse entities: Can\'t find end tag corresponding to start tag "b"',
    );
    await rejectsWith(
      bot.telegram.sendMessage(CHAT, 'a < b', html),
      400,
      'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 2',
    );
    assert.equal((await bot.telegram.sendMessage(CHAT, 'a &lt; b', html)).text, 'a < b');
    // Without parse_mode the same text is literal and fine.
    assert.equal((await bot.telegram.sendMessage(CHAT, 'a < b')).text, 'a < b');

    await rejectsWith(bot.telegram.sendMessage(CHAT, ''), 400, 'Bad Request: message text is empty');
    await rejectsWith(bot.telegram.sendMessage(CHAT, '<b> </b>', html), 400, 'Bad Request: message text is empty');
    // 4096 visible characters written as 20480 characters of entities: accepted; one more is too long.
    assert.equal((await bot.telegram.sendMessage(CHAT, '&amp;'.repeat(4096), html)).text.length, 4096);
    await rejectsWith(
      bot.telegram.sendMessage(CHAT, `<b>${'&amp;'.repeat(4097)}</b>`, html),
      400,
      'Bad Request: message is too long',
    );
    await rejectsWith(bot.telegram.sendMessage(CHAT, 'x'.repeat(4097)), 400, 'Bad Request: message is too long');
    await rejectsWith(
      bot.telegram.sendMessage(CHAT, 'r', { reply_parameters: { message_id: 999 } }),
      400,
      'Bad Request: message to be replied not found',
    );
    const sent = await bot.telegram.sendMessage(CHAT, 'r', {
      reply_parameters: { message_id: 999, allow_sending_without_reply: true },
      disable_notification: true,
      message_thread_id: 5,
    });
    const stored = fake.messages(CHAT).find((m) => m.messageId === sent.message_id);
    assert.equal(stored?.disableNotification, true);
    assert.equal(stored?.messageThreadId, 5);
    assert.deepEqual(stored?.replyParameters, { message_id: 999, allow_sending_without_reply: true });
  });

  test('unknown and blocked chats, wrong token', async () => {
    const fake = await fakeServer({ knownChats: [CHAT, -1001234567890], blockedChats: [-1001234567890] });
    const bot = newBot(fake);
    await assert.rejects(
      bot.telegram.sendMessage(7, 'x'),
      (e: unknown) => e instanceof TelegramError && e.code === 400 && e.description === 'Bad Request: chat not found',
    );
    await assert.rejects(
      bot.telegram.sendMessage(-1001234567890, 'x'),
      (e: unknown) =>
        e instanceof TelegramError && e.code === 403 && e.description === 'Forbidden: bot was blocked by the user',
    );
    assert.equal((await bot.telegram.sendMessage(CHAT, 'x')).chat.type, 'private');
    const stranger = new Telegraf('999:wrong', { telegram: { apiRoot: fake.apiRoot } });
    await assert.rejects(stranger.telegram.getMe(), (e: unknown) => e instanceof TelegramError && e.code === 401);
  });

  test('setMyCommands / getMyCommands / deleteMessage / editMessageReplyMarkup', async () => {
    const fake = await fakeServer();
    const bot = newBot(fake);
    const cmds = [
      { command: 'status', description: 'Cluster status' },
      { command: 'ack', description: 'Acknowledge' },
    ];
    assert.equal(await bot.telegram.setMyCommands(cmds), true);
    assert.deepEqual(await bot.telegram.getMyCommands(), cmds);
    assert.deepEqual(fake.commands(), cmds);
    await assert.rejects(
      bot.telegram.setMyCommands([{ command: 'Bad Command', description: 'x' }]),
      /BOT_COMMAND_INVALID/,
    );

    const m = await bot.telegram.sendMessage(CHAT, 'x', Markup.inlineKeyboard([Markup.button.callback('A', 'a')]));
    const edited = await bot.telegram.editMessageReplyMarkup(CHAT, m.message_id, undefined, { inline_keyboard: [] });
    assert.ok(typeof edited === 'object' && 'message_id' in edited);
    assert.equal(await bot.telegram.deleteMessage(CHAT, m.message_id), true);
    assert.deepEqual(fake.messages(CHAT), []);
    await assert.rejects(bot.telegram.deleteMessage(CHAT, m.message_id), /message to delete not found/);
  });

  test('form-urlencoded and multipart bodies are accepted like JSON', async () => {
    const fake = await fakeServer();
    const url = `${fake.apiRoot}bot${fake.token}/sendMessage`;
    const r1 = await fetch(url, {
      method: 'POST',
      body: new URLSearchParams({ chat_id: '5', text: '<b>x</b>', parse_mode: 'HTML' }),
    });
    assert.equal(r1.status, 200);
    const form = new FormData();
    form.set('chat_id', '5');
    form.set('text', 'y');
    form.set('reply_markup', JSON.stringify({ inline_keyboard: [[{ text: 'b', callback_data: 'd' }]] }));
    const r2 = (await (await fetch(url, { method: 'POST', body: form })).json()) as {
      ok: boolean;
      result: { message_id: number };
    };
    assert.equal(r2.ok, true);
    assert.deepEqual(
      fake.messages(5).map((m) => m.text),
      ['x', 'y'],
    );
    assert.deepEqual(fake.messages(5)[1]?.replyMarkup, { inline_keyboard: [[{ text: 'b', callback_data: 'd' }]] });
    const r3 = await fetch(`${fake.apiRoot}bot${fake.token}/noSuchMethod`, { method: 'POST' });
    assert.equal(r3.status, 404);
    assert.deepEqual(await r3.json(), { ok: false, error_code: 404, description: 'Not Found: method not found' });
  });

  test('409 on getUpdates: telegraf rejects launch() and stops polling without a retry', async () => {
    // Observed telegraf 4.16.3 behaviour: Polling treats 401/409 as fatal. The TelegramError is thrown
    // out of the polling loop, so the promise returned by bot.launch() rejects; the final
    // "offset sync" getUpdates is skipped; bot.stop() afterwards does not throw.
    const fake = await fakeServer();
    const bot = newBot(fake);
    fake.fail('getUpdates', {
      status: 409,
      description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
    });
    const running = { error: undefined as unknown };
    const done = bot
      .launch({}, () => undefined)
      .catch((e: unknown) => {
        running.error = e;
      });
    await withTimeout(done, 3000, 'launch should reject');
    assert.ok(running.error instanceof TelegramError);
    assert.equal(running.error.code, 409);
    assert.match(running.error.description, /terminated by other getUpdates request/);
    await sleep(200);
    assert.equal(fake.callsOf('getUpdates').length, 1, 'no retry and no offset sync after 409');
    assert.doesNotThrow(() => bot.stop());
  });

  test('a second bot instance polling kicks the first one out with 409', async () => {
    const fake = await fakeServer();
    const first = await launch(fake, newBot(fake));
    const second = await launch(fake, newBot(fake));
    await withTimeout(first.done, 3000, 'first bot should stop');
    const err = first.outcome().error;
    assert.ok(err instanceof TelegramError && err.code === 409, String(err));
    assert.equal(second.outcome().settled, false);
  });

  test('bot.stop() aborts the held poll, syncs the offset with limit=1 and launch() resolves', async () => {
    const fake = await fakeServer();
    const bot = newBot(fake);
    bot.command('status', (ctx) => ctx.reply('ok'));
    const running = await launch(fake, bot);
    const u = fake.pushCommand(CHAT, USER, '/status');
    await fake.waitForCall('sendMessage');
    await fake.waitForPolling();
    const mark = fake.mark();
    bot.stop('test');
    await withTimeout(running.done, 3000, 'launch() should resolve after stop');
    assert.equal(running.outcome().error, undefined);
    const aborted = await fake.waitForCall('getUpdates', () => true, 2000, { after: mark });
    assert.equal(aborted.status, 0, 'the held poll is recorded as abandoned by the client');
    assert.equal(aborted.params['timeout'], 50);
    const sync = await fake.waitForCall('getUpdates', (c) => c.params['limit'] === 1, 2000, { after: mark });
    assert.deepEqual(sync.params, { offset: u.update_id + 1, limit: 1 });
    assert.equal(sync.status, 200);
    assert.equal(fake.heldPoll(), undefined);
  });

  test('getUpdates semantics: offset confirms, limit caps, timeout holds then returns []', async () => {
    const fake = await fakeServer();
    const url = `${fake.apiRoot}bot${fake.token}/getUpdates`;
    const call = async (body: object): Promise<Array<{ update_id: number }>> => {
      const r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return ((await r.json()) as { result: Array<{ update_id: number }> }).result;
    };
    const a = fake.pushCommand(1, 1, '/a');
    fake.pushCommand(1, 1, '/b');
    const c = fake.pushCommand(1, 1, '/c');
    assert.equal((await call({ limit: 2 })).length, 2);
    assert.equal((await call({})).length, 3, 'unconfirmed updates are delivered again');
    assert.deepEqual(
      (await call({ offset: c.update_id })).map((u) => u.update_id),
      [c.update_id],
    );
    assert.equal(fake.pendingUpdates().length, 1);
    const t0 = Date.now();
    assert.deepEqual(await call({ offset: c.update_id + 1, timeout: 1 }), []);
    assert.ok(Date.now() - t0 >= 900, 'held for the timeout');
    // A held poll is answered as soon as an update arrives.
    const held = call({ offset: c.update_id + 1, timeout: 10 });
    await fake.waitForPolling();
    const d = fake.pushCommand(1, 1, '/d');
    assert.deepEqual(
      (await held).map((u) => u.update_id),
      [d.update_id],
    );
    assert.ok(a.update_id < d.update_id);
  });

  test('close() answers a held poll and lets the process exit', async () => {
    const fake = await startFakeTelegram();
    const url = `${fake.apiRoot}bot${fake.token}/getUpdates`;
    const held = fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"timeout":30}',
    });
    await fake.waitForPolling();
    await withTimeout(fake.close(), 1000, 'close');
    const r = await held;
    assert.deepEqual(await r.json(), { ok: true, result: [] });
  });
});

/**
 * Telegram's flood control, on the loopback Bot API (test/support/fake-telegram.ts) and as the
 * notifier and outbox worker live with it: 429 with retry_after when a chat, a group or the bot as
 * a whole sends too fast; messages queued behind a 429; per-chat order when a send fails.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { OutboxWorker } from '../../src/notify/outbox-worker.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { CapturingNotifier } from '../support/builders.js';
import {
  startFakeTelegram,
  TELEGRAM_FLOOD_LIMITS,
  type FakeTelegram,
  type FakeTelegramOptions,
} from '../support/fake-telegram.js';
import { firingAlert, harness, notificationOf, T0, VirtualClock, type Harness } from './harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fakeOn(clock: VirtualClock, o: FakeTelegramOptions = {}): Promise<FakeTelegram> {
  const fake = await startFakeTelegram({ now: clock.now, floodControl: {}, ...o });
  cleanups.push(() => fake.close());
  return fake;
}

async function send(
  fake: FakeTelegram,
  chatId: number | string,
  text = 'hi',
): Promise<{
  status: number;
  body: {
    ok: boolean;
    result?: { chat: { id: number; type: string } };
    parameters?: { retry_after: number };
    description?: string;
  };
}> {
  const res = await fetch(`${fake.apiRoot}bot${fake.token}/sendMessage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ chat_id: chatId, text }),
  });
  return { status: res.status, body: (await res.json()) as never };
}

describe('the fake Bot API limits sends as Telegram documents', () => {
  test('the documented rates', () => {
    assert.deepEqual(
      { ...TELEGRAM_FLOOD_LIMITS },
      { perChatPerSecond: 1, perChatBurst: 3, groupPerMinute: 20, globalPerSecond: 30 },
    );
  });

  test('one chat: a short burst passes, then 429 with retry_after until the bucket refills', async () => {
    const clock = new VirtualClock();
    const fake = await fakeOn(clock);
    for (let i = 0; i < 3; i++) assert.equal((await send(fake, 42)).status, 200, `burst message ${i + 1}`);
    const r = await send(fake, 42);
    assert.equal(r.status, 429);
    assert.equal(r.body.parameters?.retry_after, 1);
    assert.match(r.body.description!, /^Too Many Requests: retry after 1$/);
    assert.equal((await send(fake, 43)).status, 200, 'another chat is not limited by this one');
    clock.advance(999);
    assert.equal((await send(fake, 42)).status, 429, 'not before the second is over');
    clock.advance(1);
    assert.equal((await send(fake, 42)).status, 200);
    assert.equal(fake.messages(42).length, 4, 'refused messages are not stored');
  });

  test('a group: at most 20 messages in any minute, even at one a second; retry_after counts to the oldest leaving the window', async () => {
    const clock = new VirtualClock();
    const fake = await fakeOn(clock);
    for (let i = 0; i < 20; i++) {
      assert.equal((await send(fake, -100777)).status, 200, `message ${i + 1}`);
      clock.advance(1000);
    }
    const r = await send(fake, -100777);
    assert.equal(r.status, 429);
    assert.equal(r.body.parameters?.retry_after, 40);
    assert.equal((await send(fake, 42)).status, 200, 'a private chat is not a group');
    clock.advance(39_999);
    assert.equal((await send(fake, -100777)).status, 429);
    clock.advance(1);
    assert.equal((await send(fake, -100777)).status, 200);
  });

  test('overall: about 30 messages a second across chats', async () => {
    const clock = new VirtualClock();
    const fake = await fakeOn(clock);
    for (let i = 0; i < 30; i++) assert.equal((await send(fake, 1000 + i)).status, 200);
    const r = await send(fake, 2000);
    assert.equal(r.status, 429);
    assert.equal(r.body.parameters?.retry_after, 1);
    clock.advance(1000);
    assert.equal((await send(fake, 2000)).status, 200);
  });

  test('configurable: other limits, or off', async () => {
    const clock = new VirtualClock();
    const strict = await fakeOn(clock, { floodControl: { perChatBurst: 1 } });
    assert.equal((await send(strict, 42)).status, 200);
    assert.equal((await send(strict, 42)).status, 429);
    const off = await fakeOn(clock, { floodControl: false });
    for (let i = 0; i < 40; i++) assert.equal((await send(off, 42)).status, 200);
    off.setFloodControl({ perChatBurst: 1 });
    assert.equal((await send(off, 43)).status, 200);
    assert.equal((await send(off, 43)).status, 429, 'limited from the moment it is switched on');
  });

  test('@channel usernames are chat ids (any case); unknown ones are "chat not found"', async () => {
    const clock = new VirtualClock();
    const fake = await fakeOn(clock, { usernames: { '@ops_alerts': -1001234567890 } });
    const r = await send(fake, '@Ops_Alerts', 'to the channel');
    assert.equal(r.status, 200);
    assert.deepEqual([r.body.result?.chat.id, r.body.result?.chat.type], [-1001234567890, 'channel']);
    assert.deepEqual(
      fake.messages('@ops_alerts').map((m) => m.text),
      ['to the channel'],
    );
    assert.deepEqual(
      fake.messages(-1001234567890).map((m) => m.text),
      ['to the channel'],
    );
    const unknown = await send(fake, '@nobody_here');
    assert.deepEqual([unknown.status, unknown.body.description], [400, 'Bad Request: chat not found']);
    // The username and the id are one chat for flood control too.
    assert.equal((await send(fake, -1001234567890)).status, 200);
    assert.equal((await send(fake, '@ops_alerts')).status, 200);
    assert.equal((await send(fake, '@ops_alerts')).status, 429);
  });
});

const CHAT = -100555;
const ids = (x: Harness, chat: number | string) => x.fake.messages(chat).map((m) => /on (web\d+)/.exec(m.text)?.[1]);

describe("the notifier and outbox under the server's flood control", () => {
  test('a notifier pacing faster than Telegram allows: 429, the messages behind it wait retry_after, all arrive in order', async () => {
    // Two receivers in one chat (two forum topics): a 429 blocks the chat, not only the receiver that got it.
    const h = await harness({
      chats: [
        { id: CHAT, severities: ['critical'], thread_id: 1 },
        { id: CHAT, severities: ['critical'], thread_id: 2 },
      ],
      pacing: { perChatIntervalMs: 100 },
      coalesceAfter: 100,
    });
    cleanups.push(() => h.close());
    for (let i = 0; i < 4; i++) {
      const a = firingAlert('pg-down', { host: `web${i}` });
      await h.enqueue(notificationOf('firing', [a], T0), [a]);
    }
    await h.drain(60_000, 100);
    const s = h.fake.callsOf('sendMessage');
    const limited = s.filter((c) => c.status === 429);
    assert.ok(limited.length > 0, 'the server limited the burst');
    for (const c of limited) {
      const until = c.at + (c.response as { parameters: { retry_after: number } }).parameters.retry_after * 1000;
      const early = s.filter((d) => d.at > c.at && d.at < until);
      assert.deepEqual(
        early.map((d) => `${String(d.params['message_thread_id'])}@${d.at - T0}`),
        [],
        `nothing to the chat within retry_after of the 429 at +${c.at - T0} ms`,
      );
    }
    assert.deepEqual(await h.store.outboxCounts(), { pending: 0, sent: 8, failed: 0 });
    for (const thread of [1, 2]) {
      const texts = s
        .filter((c) => c.status === 200 && c.params['message_thread_id'] === thread)
        .map((c) => /on (web\d+)/.exec(String(c.params['text']))?.[1]);
      assert.deepEqual(texts, ['web0', 'web1', 'web2', 'web3'], `topic ${thread} in commit order`);
    }
  });

  test('a 5xx on the firing message: the resolve queued behind it waits, and replies to it', async () => {
    // A short chat interval: the resolve is due (and the chat free) while the firing message waits for its backoff.
    const h = await harness({ chats: [{ id: CHAT, severities: ['critical'] }], pacing: { perChatIntervalMs: 100 } });
    cleanups.push(() => h.close());
    h.fake.fail('sendMessage', { status: 502 });
    const a = firingAlert('pg-down', { host: 'web1' });
    await h.enqueue(notificationOf('firing', [a], T0), [a]);
    await h.worker.pass();
    assert.deepEqual(
      h.fake.callsOf('sendMessage').map((c) => c.status),
      [502],
    );
    h.clock.advance(200);
    const resolved = { ...a, state: 'resolved' as const, resolvedAt: h.clock.t };
    await h.enqueue(notificationOf('resolved', [resolved], h.clock.t), [resolved]);
    await h.drain(30_000, 50);
    assert.deepEqual(await h.store.outboxCounts(), { pending: 0, sent: 2, failed: 0 });
    const [firing, resolve] = h.fake.messages(CHAT);
    assert.match(firing!.text, /FIRING/);
    assert.match(resolve!.text, /RESOLVED/);
    assert.equal(
      (resolve!.replyParameters as { message_id: number } | undefined)?.message_id,
      firing!.messageId,
      'the resolve replies to the firing message',
    );
    assert.deepEqual(ids(h, CHAT), ['web1', 'web1']);
  });
});

describe('the outbox worker honours retry_after', () => {
  test('a retryable failure with retryAfterMs is retried exactly then, not on the backoff schedule', async () => {
    const clock = new VirtualClock();
    const store = new SqliteStore(':memory:');
    cleanups.push(() => store.close());
    const notifier = new CapturingNotifier();
    notifier.results.push({
      ok: false,
      retryable: true,
      error: '429 Too Many Requests: retry after 7',
      retryAfterMs: 7000,
    });
    // Backoff alone would retry after 750 ms (base 1 s, jitter 0.5).
    const worker = new OutboxWorker({
      store,
      notifiers: [notifier],
      logger: silentLogger,
      now: clock.now,
      pollMs: 1_000_000_000,
      random: () => 0.5,
      backoff: { baseMs: 1000, maxMs: 60_000 },
    });
    const a = firingAlert('pg-down', { host: 'web1' });
    await store.commit({
      upserts: [a],
      deletes: [],
      transitions: [],
      outbox: [{ receiver: notifier.name, notification: notificationOf('firing', [a], T0) }],
    });
    await worker.pass();
    assert.deepEqual([notifier.sent.length, (await store.outboxCounts()).pending], [0, 1]);
    clock.advance(6999);
    await worker.pass();
    assert.equal(notifier.sent.length, 0, 'not before retry_after');
    clock.advance(1);
    await worker.pass();
    assert.equal(notifier.sent.length, 1);
    assert.deepEqual(await store.outboxCounts(), { pending: 0, sent: 1, failed: 0 });
  });
});

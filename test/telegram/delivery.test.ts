import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { harness, firingAlert, notificationOf, T0, TOKEN, type Harness } from './harness.js';
import { parseTelegramHtml } from '../support/telegram-html.js';

const ONCALL = -100111;
const TEAM = -100222;
const chats = [
  { id: ONCALL, severities: ['critical'] as const, thread_id: 7 },
  { id: TEAM, severities: ['warning', 'info'] as const },
].map((c) => ({ ...c, severities: [...c.severities] }));

let h: Harness | undefined;
afterEach(async () => {
  if (h) {
    for (const line of h.logs)
      assert.ok(!line.includes(TOKEN) && !line.includes(TOKEN.split(':')[1]!), `token leaked into a log line: ${line}`);
    const metrics = await h.metrics.registry.metrics();
    assert.ok(!metrics.includes(TOKEN.split(':')[1]!), 'token leaked into /metrics');
    await h.close();
    h = undefined;
  }
});

const sends = (x: Harness) => x.fake.callsOf('sendMessage');

describe('telegram delivery over real HTTP (telegraf ↔ fake Bot API)', () => {
  test('routing: criticals to the on-call topic, warnings/info to the team chat; info is silent', async () => {
    h = await harness({ chats });
    const crit = firingAlert('pg-down', { member: 'pg1' });
    const warn = firingAlert('lag', { member: 'pg2' }, { severity: 'warning' });
    const info = firingAlert('switchover', { member: 'pg3' }, { severity: 'info' });
    await h.enqueue(notificationOf('firing', [crit], T0), [crit]);
    await h.enqueue(notificationOf('firing', [warn], T0), [warn]);
    await h.enqueue(notificationOf('firing', [info], T0), [info]);
    await h.drain(10_000);
    const [oncall] = h.fake.messages(ONCALL);
    assert.equal(h.fake.messages(ONCALL).length, 1);
    assert.equal(oncall!.messageThreadId, 7);
    assert.match(oncall!.text, /FIRING · CRITICAL/);
    const team = h.fake.messages(TEAM);
    assert.equal(team.length, 2);
    assert.equal(team.find((m) => m.text.includes('INFO'))!.disableNotification, true);
    assert.equal(team.find((m) => m.text.includes('WARNING'))!.disableNotification, undefined);
    // 1 msg/s per chat: the two team messages are ≥ 1 s apart on the call log's clock.
    const teamSends = sends(h).filter((c) => String(c.params['chat_id']) === String(TEAM));
    assert.ok(teamSends[1]!.at - teamSends[0]!.at >= 1000);
  });

  test('firing → resolved: the resolve replies to the firing message, states the duration, and the firing message is edited to RESOLVED', async () => {
    h = await harness({ chats });
    const a = firingAlert('pg-down', { member: 'pg1' }, { samples: ['FATAL: <pg1> & friends down'] });
    await h.enqueue(notificationOf('firing', [a], T0), [a]);
    await h.drain(5000);
    const [firing] = h.fake.messages(ONCALL);
    assert.ok(firing);
    assert.match(firing.text, /FATAL: <pg1> & friends down/);
    assert.deepEqual(
      (firing.replyMarkup as { inline_keyboard: { callback_data: string }[][] }).inline_keyboard[0]!.map(
        (b) => b.callback_data,
      ),
      [`ack:${a.fingerprint}`, `sil:${a.fingerprint}:1h`, `sil:${a.fingerprint}:24h`],
    );
    h.clock.advance(12 * 60_000);
    const resolved = { ...a, state: 'resolved' as const, resolvedAt: h.clock.t };
    await h.enqueue(notificationOf('resolved', [resolved], h.clock.t), [resolved]);
    await h.drain(5000);
    const msgs = h.fake.messages(ONCALL);
    assert.equal(msgs.length, 2);
    const reply = msgs[1]!;
    assert.equal(
      reply.replyToMessageId ?? (reply.replyParameters as { message_id: number }).message_id,
      firing.messageId,
    );
    assert.match(reply.text, /RESOLVED · critical · Rule pg-down — lasted 12m/);
    const edited = h.fake.messages(ONCALL)[0]!;
    assert.equal(edited.history.length, 1, 'the firing message was edited once');
    assert.match(edited.text, /^✅ RESOLVED/);
    assert.match(edited.text, /lasted 12m/);
    assert.equal(edited.replyMarkup, undefined, 'buttons removed once resolved');
  });

  test('HTML-hostile text and a 10 kB log line: accepted by the server parser, shown literally, trimmed', async () => {
    h = await harness({ chats });
    const hostile = `<b>unclosed & <script>alert(1)</script> &amp; &#x; </pre>`;
    const big = `${'ERROR <tag> & '.repeat(750)}`; // ~10.5 kB
    const a = firingAlert(
      'odoo-errors',
      { db: '<prod&db>', host: 'h"1' },
      { message: hostile, samples: [big, hostile, 'x'.repeat(10_000)], values: { value: '<1>', threshold: '&2' } },
    );
    await h.enqueue(notificationOf('firing', [a], T0, { name: hostile, runbook: hostile }), [a]);
    await h.drain(5000);
    const call = sends(h)[0]!;
    assert.equal(call.status, 200, JSON.stringify(call.response));
    const m = h.fake.messages(ONCALL)[0]!;
    assert.ok(m.text.includes('<b>unclosed & <script>alert(1)</script> &amp; &#x; </pre>'));
    assert.ok(m.text.includes('db=<prod&db>'));
    assert.ok(m.text.length < 4096);
    assert.ok(parseTelegramHtml(m.rawText).ok);
  });

  test('a notification over 4096 characters is split into valid parts, nothing rejected', async () => {
    h = await harness({ chats, pacing: { perChatIntervalMs: 1000 } });
    const alerts = Array.from({ length: 8 }, (_, i) =>
      firingAlert(
        'lag',
        { member: `pg${i}` },
        { samples: Array.from({ length: 5 }, (_, j) => `${i}.${j} <${'z'.repeat(150)}>`) },
      ),
    );
    await h.enqueue(notificationOf('firing', alerts, T0), alerts);
    await h.drain(60_000);
    const msgs = h.fake.messages(ONCALL);
    assert.ok(msgs.length >= 2 && msgs.length <= 3, `${msgs.length} parts`);
    assert.ok(sends(h).every((c) => c.status === 200));
    for (let i = 0; i < 8; i++)
      assert.ok(
        msgs.some((m) => m.text.includes(`lag on pg${i}\n`)),
        `alert ${i} delivered`,
      );
    assert.match(msgs[0]!.text, /\(1\/\d\)$/);
    assert.equal(
      msgs[1]!.replyToMessageId ?? (msgs[1]!.replyParameters as { message_id: number }).message_id,
      msgs[0]!.messageId,
    );
    assert.equal((await h.store.outboxCounts()).sent, 1);
  });

  test('429: waits exactly parameters.retry_after (from the call log), then delivers once', async () => {
    h = await harness({ chats });
    h.fake.fail('sendMessage', { status: 429, retryAfter: 7 });
    const a = firingAlert('pg-down', { member: 'pg1' });
    await h.enqueue(notificationOf('firing', [a], T0), [a]);
    await h.drain(20_000);
    const s = sends(h);
    assert.deepEqual(
      s.map((c) => c.status),
      [429, 200],
    );
    assert.equal(s[1]!.at - s[0]!.at, 7000);
    assert.equal(h.fake.messages(ONCALL).length, 1);
  });

  test('5xx and a reset connection: retried with exponential backoff (jitter injected), then delivered once', async () => {
    // A short chat interval, so the gaps are the backoff alone (with 1 s pacing the first retry waits 1 s).
    h = await harness({ chats, pacing: { perChatIntervalMs: 100 } });
    h.fake.fail('sendMessage', { status: 502 });
    h.fake.fail('sendMessage', { status: 'reset' });
    h.fake.fail('sendMessage', { status: 500 });
    const a = firingAlert('pg-down', { member: 'pg1' });
    await h.enqueue(notificationOf('firing', [a], T0), [a]);
    await h.drain(60_000, 50);
    const s = sends(h);
    assert.deepEqual(
      s.map((c) => c.status),
      [502, 0, 500, 200],
    );
    // backoff(attempts) = cap/2 + 0.5·cap/2 with cap = 1s·2^attempts → 750, 1500, 3000 ms
    assert.deepEqual([s[1]!.at - s[0]!.at, s[2]!.at - s[1]!.at, s[3]!.at - s[2]!.at], [750, 1500, 3000]);
    assert.equal(h.fake.messages(ONCALL).length, 1);
  });

  test('400 (chat not found) and 403 (blocked) are not retried: logged, counted in metrics, shown in health', async () => {
    h = await harness({ chats, fake: { knownChats: [TEAM], blockedChats: [TEAM] } });
    const crit = firingAlert('pg-down', { member: 'pg1' });
    const warn = firingAlert('lag', { member: 'pg2' }, { severity: 'warning' });
    await h.enqueue(notificationOf('firing', [crit], T0), [crit]);
    await h.enqueue(notificationOf('firing', [warn], T0), [warn]);
    await h.drain(10 * 60_000, 1000);
    const s = sends(h);
    assert.deepEqual(s.map((c) => c.status).sort(), [400, 403]);
    assert.deepEqual(await h.store.outboxCounts(), { pending: 0, sent: 0, failed: 2 });
    const metrics = await h.metrics.registry.metrics();
    assert.match(metrics, /ohw_notifications_failed_total\{receiver="telegram:-100111:7",retryable="false"\} 1/);
    const health = h.notifier.health();
    assert.equal(health.ok, false);
    assert.match(health.detail!, /chat -100111 rejected 1 message\(s\).*chat not found/);
    assert.match(health.detail!, /chat -100222 .*blocked/);
    assert.ok(h.logs.some((l) => l.includes('telegram rejected the message')));
  });

  test('pacing under a burst of 100 notifications to one group: ≤ 20 sends in any 60 s, ≥ 1 s apart, nothing lost', async () => {
    h = await harness({ chats });
    const burst = Array.from({ length: 100 }, (_, i) => ({
      at: T0 + i * 300,
      a: firingAlert('odoo-error', { host: `web${i}` }),
    }));
    let next = 0;
    await h
      .drain(15 * 60_000, 100, async () => {
        while (next < burst.length && burst[next]!.at <= h!.clock.t) {
          const { a } = burst[next++]!;
          await h!.enqueue(notificationOf('firing', [a], h!.clock.t), [a]);
        }
        if (next === burst.length && (await h!.store.outboxCounts()).pending === 0) throw new StopDrain();
      })
      .catch((e) => {
        if (!(e instanceof StopDrain)) throw e;
      });
    const s = sends(h).filter((c) => c.status === 200);
    for (const c of s)
      assert.ok(
        s.filter((d) => d.at >= c.at && d.at < c.at + 60_000).length <= 20,
        'at most 20 sends in any 60 s window',
      );
    for (let i = 1; i < s.length; i++) assert.ok(s[i]!.at - s[i - 1]!.at >= 1000, 'at most one message per second');
    assert.deepEqual(await h.store.outboxCounts(), { pending: 0, sent: 100, failed: 0 });
    // Nothing lost: single messages + the counts of digests add up to 100 notifications.
    const texts = h.fake.messages(ONCALL).map((m) => m.text);
    const covered = texts.reduce((n, t) => n + (Number(/Digest: (\d+) notifications/.exec(t)?.[1]) || 1), 0);
    assert.equal(covered, 100);
    assert.ok(
      texts.some((t) => t.includes('Digest')),
      'the backlog was coalesced',
    );
    const last = sends(h).at(-1)!;
    assert.ok(last.at - T0 < 5 * 60_000, `everything delivered within minutes, not hours (${(last.at - T0) / 1000}s)`);
  });
});

class StopDrain extends Error {}

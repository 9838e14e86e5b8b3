import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Notification, NotifiedAlert } from '../../src/alerts/notification.js';
import {
  alertKeyboard,
  escapeHtml,
  renderDigest,
  renderNotification,
  renderResolvedEdit,
} from '../../src/notify/telegram/format.js';
import { splitHtml, visibleLength, htmlToPlain } from '../../src/notify/telegram/html.js';
import { Pacer } from '../../src/notify/telegram/pacer.js';
import { classifyError, redact } from '../../src/notify/telegram/errors.js';
import { forRoute, parseReceiver, receiverOf } from '../../src/notify/telegram/notifier.js';
import { parseTelegramHtml, TELEGRAM_MESSAGE_MAX } from '../support/telegram-html.js';
import { TelegramError } from 'telegraf';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

export function alert(over: Partial<NotifiedAlert> = {}): NotifiedAlert {
  return {
    fingerprint: 'abcdef0123456789',
    shortId: 'abcdef',
    labels: { member: 'pg2' },
    values: { value: 120, threshold: 100 },
    message: 'replica pg2 lags 120 MB',
    activeSince: T0 - 300_000,
    firedAt: T0 - 240_000,
    repeat: false,
    ...over,
  };
}

export function notification(over: Partial<Notification> = {}): Notification {
  return {
    key: `r:${T0}:firing`,
    kind: 'firing',
    cluster: 'odoo-prod',
    rule: {
      id: 'replica-lag',
      name: 'Replica lag too high',
      type: 'patroni_lag',
      severity: 'critical',
      runbook: 'check pg2 disk & network',
    },
    commonLabels: {},
    alerts: [alert()],
    at: T0,
    ...over,
  };
}

/** Valid for Telegram (the fake's parser = tdlib's rules) and within the limit. */
function assertSendable(html: string): string {
  const r = parseTelegramHtml(html);
  assert.ok(r.ok, `invalid HTML: ${r.ok ? '' : r.error}\n${html.slice(0, 500)}`);
  assert.ok(r.length <= TELEGRAM_MESSAGE_MAX, `too long: ${r.length}`);
  return r.text;
}

describe('telegram HTML formatter', () => {
  test('firing message: severity, what, where, since, value vs threshold, samples, runbook', () => {
    const [html, ...rest] = renderNotification(
      notification({ alerts: [alert({ samples: ['ERROR: <b>bad</b> & worse', 'second line'] })] }),
      { now: T0 },
    );
    assert.equal(rest.length, 0);
    const text = assertSendable(html!);
    assert.match(text, /FIRING · CRITICAL · Replica lag too high/);
    assert.match(text, /What: replica pg2 lags 120 MB/);
    assert.match(text, /Where: cluster=odoo-prod member=pg2/);
    assert.match(text, /Since: 2026-11-25 11:55:00 UTC \(5m ago\)/);
    assert.match(text, /Value: 120 vs threshold 100/);
    assert.match(text, /ERROR: <b>bad<\/b> & worse\nsecond line/);
    assert.match(text, /What to do first: check pg2 disk & network/);
    assert.match(html!, /&lt;b&gt;bad&lt;\/b&gt; &amp; worse/);
  });

  test('HTML-hostile values everywhere are escaped', () => {
    const evil = '<script>&amp;</pre></b><a href="x">';
    const n = notification({
      cluster: evil,
      rule: { id: 'r', name: evil, type: 't', severity: 'warning', runbook: evil },
      alerts: [
        alert({
          message: evil,
          labels: { db: evil, [`x`]: evil },
          values: { value: evil, threshold: evil, other: evil },
          samples: [evil],
        }),
      ],
    });
    for (const part of renderNotification(n, { now: T0 })) {
      const text = assertSendable(part);
      assert.ok(text.includes(evil), 'the hostile text is shown literally');
    }
    assertSendable(renderDigest([n, { ...n, kind: 'resolved' }], { now: T0 }));
    assertSendable(
      renderResolvedEdit(n, [{ ...alert({ message: evil, labels: { db: evil } }), resolvedAt: T0 }], { now: T0 }),
    );
  });

  test('a 10 kB log line is trimmed; sample count is shown', () => {
    const big = `${'<&>'.repeat(3400)}end`;
    const n = notification({
      alerts: [alert({ samples: [big, ...Array.from({ length: 20 }, (_, i) => `line ${i} <x>`)] })],
    });
    const parts = renderNotification(n, { now: T0, maxSampleLines: 5, maxSampleChars: 300 });
    assert.equal(parts.length, 1);
    const text = assertSendable(parts[0]!);
    assert.match(text, /Log \(5 of 21 lines\)/);
    assert.ok(!text.includes('end'));
  });

  test('over 4096 visible characters: split on line boundaries, valid HTML in every part, nothing lost', () => {
    const alerts = Array.from({ length: 40 }, (_, i) =>
      alert({
        shortId: `a${String(i).padStart(5, '0')}`,
        message: `member pg${i} <lagging> & more ${'x'.repeat(40)}`,
        samples: Array.from({ length: 5 }, (_, j) => `${i}/${j} ${'&<>'.repeat(30)}`),
      }),
    );
    const n = notification({ alerts });
    const parts = renderNotification(n, { now: T0, maxParts: 10 });
    assert.ok(parts.length > 1);
    const texts = parts.map(assertSendable);
    for (let i = 0; i < 40; i++)
      assert.ok(
        texts.some((t) => t.includes(`member pg${i} <lagging>`)),
        `alert ${i} shown`,
      );
  });

  test('too many parts → compact rendering, still everything named', () => {
    const alerts = Array.from({ length: 200 }, (_, i) =>
      alert({ shortId: `b${String(i).padStart(5, '0')}`, samples: ['x'.repeat(300), 'y'.repeat(300)] }),
    );
    const parts = renderNotification(notification({ alerts }), { now: T0 });
    const texts = parts.map(assertSendable);
    for (let i = 0; i < 200; i++) assert.ok(texts.some((t) => t.includes(`b${String(i).padStart(5, '0')}`)));
  });

  test('splitHtml: reopens tags across a cut, never cuts inside an entity or a tag', () => {
    const html = `<b>${'&amp;'.repeat(5000)}</b>`;
    const parts = splitHtml(html, 4096);
    assert.equal(parts.length, 2);
    assert.equal(parts.map(assertSendable).join(''), '&'.repeat(5000));
    const pre = `<pre>${Array.from({ length: 300 }, (_, i) => `line ${i} &lt;${'z'.repeat(20)}`).join('\n')}</pre>`;
    const pparts = splitHtml(pre, 1000);
    assert.ok(pparts.every((p) => p.startsWith('<pre>') && p.endsWith('</pre>')));
    assert.equal(pparts.map(assertSendable).join('\n'), htmlToPlain(pre));
    // surrogate pairs stay whole
    const emoji = splitHtml('😀'.repeat(3000), 4096);
    assert.ok(emoji.every((p) => !/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/.test(p)));
    assert.equal(visibleLength(emoji.join('')), 6000);
  });

  test('resolved notification states how long it lasted', () => {
    const n = notification({ kind: 'resolved', alerts: [alert({ resolvedAt: T0 })] });
    const text = assertSendable(renderNotification(n, { now: T0 })[0]!);
    assert.match(text, /RESOLVED · critical · Replica lag too high — lasted 4m/);
  });

  test('digest counts everything, fits one message', () => {
    const items = Array.from({ length: 500 }, (_, i) =>
      notification({
        key: `k${i}`,
        kind: i % 5 === 0 ? 'resolved' : 'firing',
        rule: { id: 'r', name: 'Rule', type: 't', severity: i % 2 ? 'warning' : 'critical' },
        alerts: [alert({ shortId: `c${i}` })],
      }),
    );
    const text = assertSendable(renderDigest(items, { now: T0 }));
    assert.match(text, /500 notifications/);
    assert.match(text, /Firing: 400 alert\(s\) \(🔴 200 critical, 🟠 200 warning\) · Resolved: 100/);
    assert.match(text, /and \d+ more alert line\(s\) not shown/);
  });

  test('keyboard: buttons carry the full fingerprint, callback_data ≤ 64 bytes', () => {
    const kb = alertKeyboard(notification())!;
    assert.deepEqual(
      kb[0]!.map((b) => b.callback_data),
      ['ack:abcdef0123456789', 'sil:abcdef0123456789:1h', 'sil:abcdef0123456789:24h'],
    );
    for (const row of alertKeyboard(notification({ alerts: Array.from({ length: 9 }, () => alert()) }))!)
      for (const b of row) assert.ok(Buffer.byteLength(b.callback_data) <= 64);
    assert.equal(alertKeyboard(notification({ kind: 'resolved' })), undefined);
  });

  test('escapeHtml', () => assert.equal(escapeHtml('<a & "b">'), '&lt;a &amp; &quot;b&quot;&gt;'));
});

describe('pacer', () => {
  test('1/s per chat, 20 in any 60 s per group, 30/s overall', () => {
    const p = new Pacer({ perChatIntervalMs: 1000, groupPerMinute: 20, globalPerSecond: 30 });
    const sends: number[] = [];
    for (let t = 0; t < 180_000; t += 100) if (p.take('-100', t)) sends.push(t);
    for (const s of sends) assert.ok(sends.filter((x) => x >= s && x < s + 60_000).length <= 20);
    assert.equal(sends.length, 60);
    const q = new Pacer();
    assert.ok(q.take('42', 0) && !q.take('42', 999) && q.take('42', 1000));
    const g = new Pacer({ perChatIntervalMs: 1000, groupPerMinute: 20, globalPerSecond: 30 });
    let n = 0;
    for (let c = 0; c < 50; c++) if (g.take(String(c + 1), 5)) n++;
    assert.equal(n, 30);
    assert.equal(g.readyAt('77', 5), 1005);
  });
  test('429 blocks the chat until retry_after', () => {
    const p = new Pacer();
    p.block('5', 7000);
    assert.equal(p.readyAt('5', 0), 7000);
  });
});

describe('routing and errors', () => {
  test('severity and label filters pick chats; receivers carry the thread', () => {
    const oncall = { id: -100111, severities: ['critical'] as const, thread_id: 7 };
    const team = { id: -100222, severities: ['warning', 'critical'] as const, matchers: { member: 'pg2' } };
    assert.equal(receiverOf(oncall), 'telegram:-100111:7');
    assert.deepEqual(parseReceiver('telegram:-100111:7'), { chatId: '-100111', threadId: 7 });
    assert.deepEqual(parseReceiver('telegram:@ops'), { chatId: '@ops' });
    assert.ok(forRoute(oncall, notification()));
    assert.equal(
      forRoute(oncall, notification({ rule: { id: 'r', name: 'r', type: 't', severity: 'warning' } })),
      undefined,
    );
    const two = notification({ alerts: [alert(), alert({ labels: { member: 'pg3' } })] });
    assert.equal(forRoute(team, two)!.alerts.length, 1);
  });
  test('error classification: 429 exact, 5xx and network retry, 4xx give up; token redacted', () => {
    const token = '123456789:SECRETsecretSECRET';
    const e429 = new TelegramError({
      ok: false,
      error_code: 429,
      description: 'Too Many Requests: retry after 7',
      parameters: { retry_after: 7 },
    } as never);
    assert.deepEqual(classifyError(e429, token).retryAfterMs, 7000);
    assert.equal(
      classifyError(new TelegramError({ ok: false, error_code: 502, description: 'Bad Gateway' } as never), token)
        .retryable,
      true,
    );
    assert.equal(
      classifyError(
        new TelegramError({
          ok: false,
          error_code: 403,
          description: 'Forbidden: bot was blocked by the user',
        } as never),
        token,
      ).retryable,
      false,
    );
    const net = classifyError(new Error(`request to http://127.0.0.1/bot${token}/sendMessage failed`), token);
    assert.equal(net.retryable, true);
    assert.ok(!net.message.includes('SECRET'));
    assert.equal(redact(`x ${token} y`, token), 'x <token> y');
  });
});

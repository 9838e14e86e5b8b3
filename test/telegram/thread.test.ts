/**
 * One incident, one thread, over real HTTP (telegraf ↔ the loopback Bot API): the real engine,
 * SQLite store, outbox worker and Telegram notifier tell a failover as one first page whose later
 * phases edit it, with replies for the phases that need attention, reminders as replies, and one
 * resolve (a reply) that says what recovered.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { AlertEngine } from '../../src/alerts/engine.js';
import type { Evaluation, Finding } from '../../src/rules/rule-type.js';
import { silentLogger } from '../../src/log.js';
import { makeRule } from '../support/builders.js';
import { harness, type Harness } from './harness.js';

const CHAT = -100555;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const rule = makeRule({
  id: 'patroni-failover',
  type: 'patroni_leader',
  name: 'PostgreSQL primary down / failover',
  severity: 'critical',
  message: '{{summary}}',
  repeat: 10 * 60_000,
  runbook: 'bring {{member}} back',
});
const labels = { member: 'pg-node-1', event: 'primary_down' };
const phase = (p: string, summary: string, attention = false): Evaluation => ({
  ok: true,
  findings: [{ labels, phase: p, attention, values: { member: 'pg-node-1', summary } } satisfies Finding],
});

describe('one incident, one thread (Telegram)', () => {
  test('first page, phase edits, replies for attention and reminders, one resolve stating what recovered', async () => {
    h = await harness({ chats: [{ id: CHAT, severities: ['critical', 'warning', 'info'] }] });
    const x = h;
    const engine = new AlertEngine({
      store: x.store,
      notifiers: [x.notifier],
      cluster: 'odoo-cluster',
      logger: silentLogger,
      failingAfterMs: 60_000,
    });
    const step = async (ev: Evaluation, advanceMs: number) => {
      x.clock.advance(advanceMs);
      await engine.apply(rule, ev, x.clock.t);
      await x.drain(5_000);
    };

    await step(phase('down', 'primary pg-node-1 is down: REST API unreachable — writes are impossible'), 0);
    const [first] = x.fake.messages(CHAT);
    assert.ok(first);
    assert.equal(first.replyToMessageId, undefined);
    assert.match(first.text, /FIRING · CRITICAL.*\n[\s\S]*primary pg-node-1 is down/);

    await step(phase('election', 'no leader: Patroni is electing a new one among 2 failover candidates'), 25_000);
    assert.equal(x.fake.messages(CHAT).length, 1, 'an edit-only phase sends nothing new');
    assert.match(x.fake.messages(CHAT)[0]!.text, /election[\s\S]*no leader: Patroni is electing/);

    await step(
      phase(
        'failover_completed',
        'failover completed: pg-node-1 → pg-node-3, timeline 12, writes impossible for 25 s (target < 30 s)',
        true,
      ),
      5_000,
    );
    await step(phase('degraded', 'cluster degraded: 2 of 3 members, 1 failover candidate left'), 20_000);
    await step(phase('degraded', 'cluster degraded: 2 of 3 members, 1 failover candidate left'), 11 * 60_000); // reminder (repeat 10 m)
    await step(
      {
        ok: true,
        findings: [],
        recoveries: [
          { labels, values: { recovery: 'pg-node-1 rejoined as a replica on timeline 12, lag 0 B, after 12 m 30 s' } },
        ],
      },
      60_000,
    );

    const msgs = x.fake.messages(CHAT);
    const head = msgs[0]!;
    assert.equal(head.messageId, first.messageId);
    // Exactly one message stands alone; every other one replies to it.
    assert.deepEqual(
      msgs.filter((m) => m.replyToMessageId === undefined).map((m) => m.messageId),
      [first.messageId],
    );
    assert.ok(
      msgs
        .slice(1)
        .every(
          (m) =>
            m.replyToMessageId === first.messageId &&
            (m.replyParameters as { message_id?: number }).message_id === first.messageId,
        ),
    );
    assert.equal(msgs.length, 4, msgs.map((m) => m.text).join('\n---\n'));
    assert.match(
      msgs[1]!.text,
      /^🔴 UPDATE · CRITICAL · PostgreSQL primary down \/ failover\nfailover completed — failover completed: pg-node-1 → pg-node-3, timeline 12/,
    );
    assert.match(msgs[2]!.text, /STILL FIRING[\s\S]*cluster degraded: 2 of 3 members/);
    assert.match(
      msgs[3]!.text,
      /^✅ RESOLVED · critical · PostgreSQL primary down \/ failover — lasted 12m5\ds\n• \w+ pg-node-1 rejoined as a replica on timeline 12, lag 0 B, after 12 m 30 s/,
    );
    assert.doesNotMatch(
      msgs[3]!.text,
      /degraded|down:/,
      'a resolve states what recovered, never the last failing text',
    );
    assert.equal(msgs.filter((m) => /RESOLVED/.test(m.text) && m.messageId !== first.messageId).length, 1);

    // Edits all went to the first message: election, failover, degraded, resolved (a reminder edits nothing).
    const edits = x.fake.callsOf('editMessageText');
    assert.ok(edits.every((c) => c.params['message_id'] === first.messageId));
    assert.deepEqual(
      head.history.map((v) => /· <i>(\w[\w ]*)<\/i>/.exec(v.rawText)?.[1] ?? 'first'),
      ['first', 'election', 'failover completed', 'degraded'],
    );
    assert.match(head.text, /^✅ RESOLVED/);
    assert.match(
      head.text,
      /down: primary pg-node-1 is down[\s\S]*election: no leader[\s\S]*failover completed: failover completed[\s\S]*degraded: cluster degraded[\s\S]*recovered: pg-node-1 rejoined/,
    );
    assert.equal(head.replyMarkup, undefined, 'the resolved head has no Ack / Silence buttons');
  });

  test('an update for an alert with no first page in this chat is sent as a page of its own, which then starts the thread', async () => {
    h = await harness({ chats: [{ id: CHAT, severities: ['critical'] }] });
    const x = h;
    const engine = new AlertEngine({
      store: x.store,
      notifiers: [],
      cluster: 'odoo-cluster',
      logger: silentLogger,
      failingAfterMs: 60_000,
    });
    // The first page went nowhere (no notifier yet: a chat added by a reload mid-incident).
    await engine.apply(rule, phase('down', 'primary pg-node-1 is down'), x.clock.t);
    const routed = new AlertEngine({
      store: x.store,
      notifiers: [x.notifier],
      cluster: 'odoo-cluster',
      logger: silentLogger,
      failingAfterMs: 60_000,
    });
    x.clock.advance(30_000);
    await routed.apply(rule, phase('failover_completed', 'failover completed: pg-node-1 → pg-node-2', true), x.clock.t);
    await x.drain(5_000);
    x.clock.advance(30_000);
    await routed.apply(rule, phase('degraded', 'cluster degraded'), x.clock.t);
    await x.drain(5_000);
    const msgs = x.fake.messages(CHAT);
    assert.equal(msgs.length, 1);
    assert.match(msgs[0]!.text, /FIRING · CRITICAL[\s\S]*failover completed: pg-node-1 → pg-node-2/);
    assert.match(msgs[0]!.text, /degraded[\s\S]*Now: cluster degraded/);
  });
});

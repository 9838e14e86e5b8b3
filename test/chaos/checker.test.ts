import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkRun, classifyText } from '../../scripts/chaos/checker.js';
import type { BotCall, CycleRecord, Timeline } from '../../scripts/chaos/timeline.js';

/** A hand-made Bot API call log: each helper appends one successful call and returns its message id. */
function log() {
  const calls: BotCall[] = [];
  let nextId = 100;
  const send = (at: number, text: string, replyTo?: number): number => {
    const id = nextId++;
    calls.push({
      method: 'sendMessage',
      at,
      status: 200,
      params: {
        chat_id: -1,
        text,
        parse_mode: 'HTML',
        ...(replyTo !== undefined
          ? { reply_parameters: { message_id: replyTo, allow_sending_without_reply: true } }
          : {}),
      },
      response: { ok: true, result: { message_id: id, chat: { id: -1 } } },
    });
    return id;
  };
  const edit = (at: number, id: number, text: string) => {
    calls.push({
      method: 'editMessageText',
      at,
      status: 200,
      params: { chat_id: -1, message_id: id, text, parse_mode: 'HTML' },
      response: { ok: true, result: { message_id: id } },
    });
  };
  const refused = (at: number, text: string, status: number) => {
    calls.push({
      method: 'sendMessage',
      at,
      status,
      params: { chat_id: -1, text },
      response: status === 0 ? '' : { ok: false, error_code: status, description: 'Too Many Requests: retry after 1' },
    });
  };
  return { calls, send, edit, refused };
}

const page = (sev: string, what: string, id = 'aa11bb22', rule = 'patroni-failover') =>
  `🔴 <b>FIRING · ${sev.toUpperCase()}</b> · <b>${what}</b>\n<b>What</b>: ${what}\n<i>id ${id}</i>\n<i>rule ${rule}</i>`;
const resolved = (what: string, id = 'aa11bb22', rule = 'patroni-failover') =>
  `✅ <b>RESOLVED</b> · critical · <b>${what}</b>\n• <code>${id}</code> ${what}\n<i>rule ${rule}</i>`;
const update = (what: string) => `🔁 <b>UPDATE · CRITICAL</b> · ${what}`;

function timeline(...cycles: Partial<CycleRecord>[]): Timeline {
  return {
    seed: 1,
    startedAt: 0,
    endedAt: 10_000,
    cycles: cycles.map((c, i) => ({
      cycle: i + 1,
      kind: 'kill-primary',
      planned: false,
      expectPage: true,
      start: i * 1000,
      faultAt: i * 1000 + 100,
      recoverAt: i * 1000 + 550,
      recoveredAt: i * 1000 + 600,
      end: (i + 1) * 1000,
      ...c,
    })),
  };
}

describe('chaos checker', () => {
  test('classifies the shipped Telegram format', () => {
    const c = classifyText(page('critical', 'primary pg-node-1 down'));
    assert.equal(c.resolved, false);
    assert.equal(c.severity, 'critical');
    assert.deepEqual(c.alertIds, ['aa11bb22']);
    assert.equal(c.rule, 'patroni-failover');
    const r = classifyText('✅ <b>RESOLVED</b> <s>🔴 FIRING · CRITICAL</s> · <b>x</b>');
    assert.equal(r.resolved, true);
    assert.equal(classifyText('failover completed: pg-node-1 → pg-node-3').failover, true);
  });

  test('one page, follow-ups as replies and edits, one resolve: no violation, metrics measured', () => {
    const l = log();
    const p = l.send(150, page('critical', 'primary down'));
    l.edit(300, p, page('critical', 'failover completed: pg-node-1 → pg-node-2'));
    l.send(310, update('failover completed: pg-node-1 → pg-node-2, timeline 2'), p);
    l.send(700, resolved('pg-node-1 rejoined'), p);
    l.edit(701, p, '✅ <b>RESOLVED</b> <s>🔴 FIRING · CRITICAL</s> · primary down');
    const r = checkRun(l.calls, timeline({ leaderVisibleAt: 290 }));
    assert.deepEqual(r.violations, []);
    assert.equal(r.incidents.length, 1);
    assert.deepEqual(r.cycles[0], {
      cycle: 1,
      kind: 'kill-primary',
      planned: false,
      incidents: 1,
      messages: 3,
      edits: 2,
      firstPageMs: 50,
      failoverMessageMs: 10,
      resolveMs: 150,
      violations: 0,
    });
  });

  test('a second separate page for the failover is a new incident, and an unresolved one is lost', () => {
    const l = log();
    const p = l.send(150, page('critical', 'primary down', 'aa11bb22'));
    l.send(400, page('critical', 'failover completed', 'cc33dd44'));
    l.send(700, resolved('primary down'), p);
    const r = checkRun(l.calls, timeline({ leaderVisibleAt: 390 }));
    assert.deepEqual(
      r.violations.map((v) => v.rule),
      ['never-resolved'],
    );
    assert.equal(r.cycles[0]!.incidents, 2);
  });

  test('pages while healthy and during a planned operation; info during planned is fine', () => {
    const l = log();
    l.send(50, page('warning', 'member pg-node-2 is down', 'e1e1e1e1', 'patroni-member-down'));
    l.send(1200, page('info', 'switchover pg-node-1 → pg-node-2', 'f1f1f1f1', 'patroni-switchover'));
    l.send(1300, page('critical', 'no primary in pg_primary', 'f2f2f2f2', 'haproxy-write-backend'));
    const r = checkRun(l.calls, timeline({}, { kind: 'switchover', planned: true, expectPage: false }));
    assert.deepEqual(
      r.violations.map((v) => [v.rule, v.cycle]),
      [
        ['page-while-healthy', 1],
        ['never-resolved', 1],
        ['not-reported', 1],
        ['page-during-planned', 2],
        ['never-resolved', 2],
      ],
    );
  });

  test('two resolves, a follow-up after the resolve, a repeated text, a re-page while open', () => {
    const l = log();
    const p = l.send(150, page('critical', 'primary down'));
    l.send(200, resolved('back'), p);
    l.send(250, update('still degraded'), p);
    l.send(260, resolved('back'), p); // same text again + second resolve
    const q = l.send(1150, page('critical', 'worker down', '99aa99aa', 'haproxy-odoo-server-down'));
    l.send(1160, page('critical', 'worker down, again', '99aa99aa', 'haproxy-odoo-server-down'));
    l.send(1500, resolved('worker back', '99aa99aa'), q);
    const r = checkRun(l.calls, timeline({}, {}));
    assert.deepEqual(
      r.violations.map((v) => v.rule),
      ['after-resolve', 'duplicate-text', 'multiple-resolves', 'duplicate-page', 'never-resolved'],
    );
  });

  test('refused and dropped calls deliver nothing; a resolve that is no reply and a reply to nothing are flagged', () => {
    const l = log();
    l.refused(140, page('critical', 'primary down'), 429);
    l.refused(145, page('critical', 'primary down'), 0);
    const p = l.send(150, page('critical', 'primary down'));
    l.send(700, resolved('back'));
    l.send(710, resolved('back again'), 5);
    l.edit(720, p, '✅ <b>RESOLVED</b> <s>FIRING · CRITICAL</s>');
    const r = checkRun(l.calls, timeline({}));
    assert.deepEqual(
      r.violations.map((v) => v.rule),
      ['resolve-not-a-reply', 'reply-to-unknown'],
    );
    assert.equal(r.incidents[0]!.resolvedAt, 720, 'an edit to RESOLVED resolves when no RESOLVED reply came');
  });

  test('a fault that should page and did not; a cycle the runner could not carry out', () => {
    const r = checkRun([], timeline({}, { error: 'scripts/lab kill-primary failed' }));
    assert.deepEqual(
      r.violations.map((v) => [v.rule, v.cycle]),
      [
        ['not-reported', 1],
        ['cycle-error', 2],
      ],
    );
    assert.deepEqual(
      r.cycles.map((c) => c.violations),
      [1, 1],
    );
  });

  test('a resolve of two alerts that replies to one page leaves the other page unresolved', () => {
    const l = log();
    const p = l.send(150, page('critical', 'failover completed', 'db9e6400'));
    l.send(300, page('critical', 'primary pg-node-1 is down', 'cac0bb00'));
    l.send(
      700,
      `✅ <b>RESOLVED</b> · critical · x (2 alerts)\n• <code>db9e6400</code> a\n• <code>cac0bb00</code> b`,
      p,
    );
    const v = checkRun(l.calls, timeline({})).violations;
    assert.deepEqual(
      v.map((x) => x.rule),
      ['never-resolved'],
    );
    assert.match(v[0]!.detail, /cac0bb00 was resolved only inside a reply to another page/);
  });

  test('an edit back to firing after the resolve is out of order', () => {
    const l = log();
    const p = l.send(150, page('critical', 'primary down'));
    l.send(500, resolved('back'), p);
    l.edit(520, p, page('critical', 'primary down again'));
    assert.deepEqual(
      checkRun(l.calls, timeline({})).violations.map((v) => v.rule),
      ['after-resolve'],
    );
  });
});

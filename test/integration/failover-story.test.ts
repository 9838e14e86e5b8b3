/**
 * The failover story on the real lab (root only), through the real Telegram path: kill -9 of the
 * primary → one first page within seconds; the failover as a reply to it; the first message edited
 * through the phases; the old primary restarted → one resolve, a reply, saying it rejoined as a
 * replica. ~2 min on the lab.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { labSkipReason, startLab, type Lab } from '../support/lab.js';
import { runFailoverStory, type FailoverStory } from './failover-story.js';

const skip = labSkipReason();
const MIN = 60_000;

describe('the failover story in the chat (real lab, loopback Bot API)', {
  skip,
  concurrency: false,
  timeout: 10 * MIN,
}, () => {
  let lab: Lab;
  let s: FailoverStory;

  before(async () => {
    lab = await startLab();
    s = await runFailoverStory(lab, { degradedMs: 25_000 });
  });
  after(async () => {
    await lab?.waitReady(120).catch(() => undefined);
  });

  const failover = () =>
    s.events.filter((e) => /PostgreSQL primary down \/ failover|^🔴 UPDATE/.test(e.text) || e.replyTo !== undefined);

  test('one first page, within seconds of the kill, saying what died, that writes are impossible and what Patroni will do', () => {
    const pages = s.events.filter((e) => e.kind === 'message');
    assert.equal(pages.length, 1, JSON.stringify(s.events, null, 1));
    assert.match(
      pages[0]!.text,
      new RegExp(
        `FIRING · CRITICAL · PostgreSQL primary down / failover[\\s\\S]*primary ${s.killed} is down: .* writes are impossible; Patroni promotes a replica once the leader key expires`,
      ),
    );
    assert.ok(s.pageMs < 10_000, `kill → page ${s.pageMs} ms`);
  });

  test('the failover is a reply to the first page, with old → new, timeline, write outage against the target and data at risk', () => {
    const head = s.events.find((e) => e.kind === 'message')!;
    const reply = s.events.find((e) => e.kind === 'reply' && /failover completed/.test(e.text));
    assert.ok(reply, JSON.stringify(s.events, null, 1));
    assert.equal(reply.replyTo, head.messageId);
    const atRisk = `(0 bytes at risk: ${s.newLeader} had replayed everything|≥ [\\d.]+ [kMG]?B of WAL not replicated \\(estimate)`;
    // Patroni writes the new timeline into /history a loop after the promotion: the reply may say the
    // figure is not known yet; the first message is then edited with it once /history has it.
    assert.match(
      reply.text,
      new RegExp(
        `failover completed: ${s.killed} → ${s.newLeader}, timeline \\d+, writes impossible for \\d+ s \\((target < 30 s|over the < 30 s target)\\); (${atRisk.slice(1, -1)}|data at risk unknown \\(the new timeline is not in Patroni /history yet\\))`,
      ),
    );
    assert.ok(
      s.events.some((e) => (e.kind === 'edit' || e.kind === 'reply') && new RegExp(atRisk).test(e.text)),
      `the data at risk is told once /history has the promotion: ${JSON.stringify(s.events, null, 1)}`,
    );
  });

  test('every later message replies to the first; edits change only the first; exactly one resolve saying what recovered', () => {
    const head = s.events.find((e) => e.kind === 'message')!;
    const mine = failover();
    assert.ok(
      mine
        .filter((e) => e.kind !== 'message')
        .every((e) => (e.kind === 'edit' ? e.messageId : e.replyTo) === head.messageId),
      JSON.stringify(mine, null, 1),
    );
    assert.ok(
      s.events.some((e) => e.kind === 'edit' && /failover completed/.test(e.text)),
      'the first message shows the failover',
    );
    const resolves = s.events.filter((e) => e.kind === 'reply' && /^✅ RESOLVED/.test(e.text));
    assert.equal(resolves.length, 1, JSON.stringify(s.events, null, 1));
    assert.match(
      resolves[0]!.text,
      // Patroni reports a rejoined replica's lag once it has replayed its first WAL: named when known.
      new RegExp(`${s.killed} rejoined as a replica on timeline \\d+(, lag [\\d.]+ [kM]?B)?, after (\\d+ m )?\\d+ s`),
    );
    assert.doesNotMatch(resolves[0]!.text, /has not rejoined|still down|is down/);
    const lastEdit = s.events.filter((e) => e.kind === 'edit').at(-1)!;
    assert.match(lastEdit.text, /^✅ RESOLVED/);
  });
});

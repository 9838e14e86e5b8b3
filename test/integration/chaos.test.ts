/**
 * A short fixed-seed chaos run on the real lab (root), two cheap kinds in order (--each): an HAProxy
 * reload (planned: nothing above info) and an Odoo worker down and back while the Bot API answers
 * 429 to the page and to the resolve — against the real service process (startup included, a
 * checked healthy period) and the loopback Bot API server.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkRun } from '../../scripts/chaos/checker.js';
import { runChaos } from '../../scripts/chaos/main.js';
import { labSkipReason } from '../support/lab.js';

describe('chaos runner on the lab', { skip: labSkipReason() }, () => {
  test('seed 12, reload + worker down under 429: one page and one resolve, no violation; the checker sees a re-sent page', {
    timeout: 5 * 60_000,
  }, async () => {
    const report = await runChaos(
      {
        cycles: 2,
        each: true,
        seed: 12,
        kinds: ['haproxy-reload', 'botapi-429'],
        quietMs: 3_000,
        settleMs: 60_000,
        warmupMs: 8_000,
        log: () => undefined,
      },
      'chaos.test.ts',
    );
    const cycles = report.timeline.cycles;
    assert.deepEqual(
      cycles.map((c) => c.kind),
      ['startup', 'haproxy-reload', 'botapi-429'],
    );
    assert.deepEqual(
      cycles.map((c) => c.error),
      [undefined, undefined, undefined],
    );
    assert.deepEqual(report.violations, []);

    // Startup and the planned reload told nothing; each worker outage is one page and one RESOLVED reply to it.
    const byCycle = report.cycles;
    assert.deepEqual(
      byCycle.slice(0, 2).map((c) => c.incidents),
      [0, 0],
    );
    for (const c of byCycle.slice(2)) {
      assert.equal(c.incidents, 1, `cycle ${c.cycle}: one incident`);
      assert.equal(c.messages, 2, `cycle ${c.cycle}: a page and its resolve`);
      assert.ok(c.firstPageMs !== undefined && c.firstPageMs > 0);
      assert.ok(c.resolveMs !== undefined);
    }
    const odoo = report.incidents.filter((i) => i.rule === 'haproxy-odoo-server-down');
    assert.equal(odoo.length, 1);
    // the 429s were really met: refused sendMessage calls are in the log, and still nothing was lost
    assert.ok(report.calls.some((c) => c.method === 'sendMessage' && c.status === 429));

    // Honesty: the same real call log with the first page delivered twice is caught.
    const page = report.calls.find(
      (c) => c.method === 'sendMessage' && c.status === 200 && c.params['reply_parameters'] === undefined,
    )!;
    const twice = [
      ...report.calls,
      { ...page, at: page.at + 1, response: { ok: true, result: { message_id: 999_999 } } },
    ];
    const rules = checkRun(twice, report.timeline).violations.map((v) => v.rule);
    assert.ok(rules.includes('duplicate-text') && rules.includes('duplicate-page'), `found: ${rules.join(', ')}`);
  });
});

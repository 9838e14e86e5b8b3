/**
 * A source that stays down is logged on its transitions (down with the error, recovered with the
 * downtime) and at most every few minutes in between — not once per rule per tick.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { AlertEngine } from '../../src/alerts/engine.js';
import { createRegistry } from '../../src/rules/registry.js';
import { defineRuleType, type Evaluation } from '../../src/rules/rule-type.js';
import { Scheduler } from '../../src/scheduler.js';
import { SOURCE_DOWN_SUMMARY_MS, SourceHealthLog } from '../../src/source-health-log.js';
import type { StateStore } from '../../src/store/store.js';
import { makeRule } from '../support/builders.js';

type Line = Record<string, unknown> & { level: number; msg: string };

function capture() {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** 13 rules on one source, ticked every second by a real Scheduler; the source's answer is switchable. */
function harness() {
  const { logger, lines } = capture();
  let patroniUp = false;
  const type = defineRuleType({
    type: 'fake_patroni',
    summary: 'test',
    source: 'patroni',
    shape: {},
    placeholders: {},
    defaultMessage: 'x',
    recovered: () => 'clear',
    async evaluate(): Promise<Evaluation> {
      return patroniUp
        ? { ok: true, findings: [] }
        : { ok: false, source: 'patroni', error: 'unreachable: no Patroni member answered (pg1: connection refused)' };
    },
  });
  let t = 1_000_000;
  const engine = { apply: async () => ({ step: {}, notifications: [] }) } as unknown as AlertEngine;
  const store = { getCursor: async () => undefined } as unknown as StateStore;
  const scheduler = new Scheduler({
    engine,
    registry: createRegistry([type]),
    sources: { http: { probe: async () => ({ url: '', durationMs: 0 }) }, async close() {} },
    store,
    logger,
    now: () => t,
  });
  const rules = Array.from({ length: 13 }, (_, i) => makeRule({ id: `r${i}`, type: 'fake_patroni', every: 1000 }));
  return {
    lines,
    setUp: (v: boolean) => {
      patroniUp = v;
    },
    /** Ticks every rule (or only the first `only`) once per simulated second. */
    async seconds(n: number, only = rules.length) {
      for (let i = 0; i < n; i++) {
        for (const r of rules.slice(0, only)) await scheduler.tick(r);
        t += 1000;
      }
    },
    now: () => t,
  };
}

const warnings = (lines: Line[]) => lines.filter((l) => l.level >= 40);

describe('logging a rule that stays partly unknown', () => {
  it('logged when it starts and when it ends, not every evaluation', () => {
    const { logger, lines } = capture();
    const log = new SourceHealthLog(logger);
    const partial: Evaluation = {
      ok: true,
      findings: [],
      unknown: [
        {
          labels: { node: 'pg2', problem: 'not_streaming' },
          reason: 'pg1: replication unknown (canceling statement due to statement timeout)',
        },
      ],
    };
    for (let i = 0; i < 60; i++) log.record('pg-replication', partial, i * 1000);
    log.record('pg-replication', { ok: true, findings: [] }, 60_000);
    log.record('pg-replication', { ok: true, findings: [] }, 61_000);
    assert.deepEqual(
      lines.map((l) => l.msg.replace(/:.*/, '')),
      ['rule partly unknown', 'rule fully known again'],
    );
    assert.deepEqual(lines[0]!['unknown'], [
      {
        labels: { node: 'pg2', problem: 'not_streaming' },
        reason: 'pg1: replication unknown (canceling statement due to statement timeout)',
      },
    ]);
    assert.equal(lines[1]!['unknownForMs'], 60_000);
  });
});

describe('logging a source that stays down', () => {
  it('everything down for 3 minutes: one line when it goes down, one when it recovers (not 13 × 180)', async () => {
    const h = harness();
    await h.seconds(180);
    const down = warnings(h.lines);
    assert.equal(down.length, 1, JSON.stringify(down.slice(0, 3)));
    assert.match(down[0]!.msg, /^source down/);
    assert.deepEqual(
      [down[0]!['source'], down[0]!['error']],
      ['patroni', 'unreachable: no Patroni member answered (pg1: connection refused)'],
    );
    h.setUp(true);
    await h.seconds(1);
    const recovered = h.lines.filter((l) => l.msg === 'source recovered');
    assert.equal(recovered.length, 1);
    assert.deepEqual(
      [recovered[0]!['source'], recovered[0]!['downForMs'], recovered[0]!['failedEvaluations']],
      ['patroni', 180_000, 13 * 180],
    );
    assert.equal(h.lines.length, 2, JSON.stringify(h.lines));
  });

  it('still down: at most one summary per interval, with the failed evaluations since the last line', async () => {
    const h = harness();
    const minutes = 11;
    await h.seconds((minutes * 60_000) / 1000);
    const lines = warnings(h.lines);
    assert.deepEqual(
      lines.map((l) => l.msg.replace(/:.*/, '')),
      ['source down', 'source still down', 'source still down'],
    );
    const perInterval = (SOURCE_DOWN_SUMMARY_MS / 1000) * 13;
    assert.deepEqual(
      lines.slice(1).map((l) => [l['failedEvaluations'], l['downForMs']]),
      [
        [perInterval, SOURCE_DOWN_SUMMARY_MS],
        [perInterval, 2 * SOURCE_DOWN_SUMMARY_MS],
      ],
    );
    assert.equal((lines[1]!['rules'] as string[]).length, 13);
  });

  it('one rule recovering while others still fail is not "recovered"', async () => {
    const h = harness();
    await h.seconds(2);
    h.setUp(true);
    await h.seconds(1, 5); // 8 rules have not read it again yet: still failing
    assert.deepEqual(
      h.lines.map((l) => l.msg.replace(/:.*/, '')),
      ['source down'],
    );
    await h.seconds(1);
    assert.deepEqual(
      h.lines.map((l) => l.msg.replace(/:.*/, '')),
      ['source down', 'source recovered'],
    );
  });
});

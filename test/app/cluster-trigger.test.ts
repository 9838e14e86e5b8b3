/**
 * Cluster events make the cluster rules evaluate at once and twice more while the cluster settles;
 * log rules are untouched; a flurry of events costs one burst; the scheduler never stacks an
 * evaluation on one in flight and does not report a regular tick meeting an event-driven one.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { AlertEngine } from '../../src/alerts/engine.js';
import { ClusterTrigger, FOLLOW_UP_MS } from '../../src/cluster-trigger.js';
import { silentLogger } from '../../src/log.js';
import { createRegistry } from '../../src/rules/registry.js';
import { defineRuleType, type Evaluation, type Rule } from '../../src/rules/rule-type.js';
import { Scheduler } from '../../src/scheduler.js';
import type { ClusterEvent } from '../../src/sources/events/cluster-event.js';
import type { StateStore } from '../../src/store/store.js';
import { makeRule } from '../support/builders.js';

const event = (what = 'connection to PostgreSQL closed'): ClusterEvent => ({
  source: 'postgres',
  subject: 'pg-node-1',
  what,
  at: 0,
});

/** Timers run by hand: `advance(ms)` fires what is due, in order. */
function manualTimers() {
  let now = 0;
  const due: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
  return {
    setTimer(fn: () => void, ms: number) {
      const t = { at: now + ms, fn, cancelled: false };
      due.push(t);
      return {
        cancel: () => {
          t.cancelled = true;
        },
      };
    },
    advance(ms: number) {
      now += ms;
      for (const t of due.filter((d) => !d.cancelled && d.at <= now).sort((a, b) => a.at - b.at)) {
        t.cancelled = true;
        t.fn();
      }
    },
  };
}

describe('ClusterTrigger', () => {
  const rules: Rule[] = [
    makeRule({ id: 'failover', type: 'patroni_leader' }),
    makeRule({ id: 'lag', type: 'postgres_replication' }),
    makeRule({ id: 'errors', type: 'log_frequency' }),
    makeRule({ id: 'web', type: 'http' }),
  ];
  const sourceOf = (r: Rule) =>
    ({ patroni_leader: 'patroni', postgres_replication: 'postgres', log_frequency: 'elasticsearch', http: 'http' })[
      r.type
    ];

  it('evaluates the cluster rules at once, then at each follow-up, refreshing the polls first each time', () => {
    const timers = manualTimers();
    const calls: string[] = [];
    const trigger = new ClusterTrigger({
      evaluateNow: (filter) =>
        calls.push(
          `evaluate ${rules
            .filter(filter)
            .map((r) => r.id)
            .join(',')}`,
        ),
      refresh: () => calls.push('refresh'),
      sourceOf,
      logger: silentLogger,
      setTimer: timers.setTimer,
    });
    trigger.handle(event());
    assert.deepEqual(calls, ['refresh', 'evaluate failover,lag']);
    timers.advance(FOLLOW_UP_MS[1]!);
    assert.equal(calls.length, 4);
    timers.advance(FOLLOW_UP_MS[2]! - FOLLOW_UP_MS[1]!);
    assert.equal(calls.length, 6);
    timers.advance(60_000);
    assert.equal(calls.length, 6, 'a burst ends');
  });

  it('an event during a burst restarts it instead of stacking a second one', () => {
    const timers = manualTimers();
    let evaluations = 0;
    const trigger = new ClusterTrigger({
      evaluateNow: () => evaluations++,
      sourceOf,
      logger: silentLogger,
      setTimer: timers.setTimer,
    });
    trigger.handle(event('leader key removed'));
    timers.advance(500);
    trigger.handle(event('leader key set to pg-node-3'));
    assert.equal(evaluations, 2);
    timers.advance(60_000);
    // Without the restart the first burst's two follow-ups would also run: 2 + 2 + 2 = 6.
    assert.equal(evaluations, 2 + FOLLOW_UP_MS.length - 1);
  });

  it('cancel() drops pending follow-ups (service stopping)', () => {
    const timers = manualTimers();
    let evaluations = 0;
    const trigger = new ClusterTrigger({
      evaluateNow: () => evaluations++,
      sourceOf,
      logger: silentLogger,
      setTimer: timers.setTimer,
    });
    trigger.handle(event());
    trigger.cancel();
    timers.advance(60_000);
    assert.equal(evaluations, 1);
  });
});

describe('Scheduler.evaluateNow', () => {
  function harness() {
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino(
      { level: 'debug' },
      new Writable({
        write(c: Buffer, _e, cb) {
          for (const l of c.toString().split('\n'))
            if (l.trim()) lines.push(JSON.parse(l) as { level: number; msg: string });
          cb();
        },
      }),
    );
    const gates: Array<() => void> = [];
    let evaluations = 0;
    const type = defineRuleType({
      type: 'slow_patroni',
      summary: 'test',
      source: 'patroni',
      shape: {},
      placeholders: {},
      defaultMessage: 'x',
      recovered: () => 'recovered',
      evaluate: () => {
        evaluations++;
        return new Promise<Evaluation>((r) => gates.push(() => r({ ok: true, findings: [] })));
      },
    });
    const engine = { apply: async () => ({ step: {}, notifications: [] }) } as unknown as AlertEngine;
    const store = { getCursor: async () => undefined } as unknown as StateStore;
    const scheduler = new Scheduler({
      engine,
      registry: createRegistry([type]),
      sources: { http: { probe: async () => ({ url: '', durationMs: 0 }) }, async close() {} },
      store,
      logger,
    });
    const rule = makeRule({ id: 'failover', type: 'slow_patroni', every: 3_600_000 });
    scheduler.start([rule]);
    return { scheduler, rule, lines, gates, evaluations: () => evaluations };
  }

  it('starts an evaluation now, never a second one on top of it, and a regular tick meeting it is not reported as slow', async () => {
    const h = harness();
    try {
      h.scheduler.evaluateNow(() => true);
      await new Promise((r) => setImmediate(r));
      assert.equal(h.evaluations(), 1);
      h.scheduler.evaluateNow(() => true);
      await h.scheduler.tick(h.rule); // the rule's own tick while the event-driven one runs
      await new Promise((r) => setImmediate(r));
      assert.equal(h.evaluations(), 1);
      assert.deepEqual(
        h.lines.filter((l) => l.level >= 40).map((l) => l.msg),
        [],
      );
      for (const g of h.gates) g();
      await new Promise((r) => setImmediate(r));
      // Once it finished, a slow regular tick is reported as before.
      const regular = h.scheduler.tick(h.rule);
      await h.scheduler.tick(h.rule);
      assert.deepEqual(
        h.lines.filter((l) => l.level >= 40).map((l) => l.msg),
        ['previous evaluation still running; tick skipped'],
      );
      for (const g of h.gates) g();
      await regular;
    } finally {
      await h.scheduler.stop(100);
    }
  });

  it('leaves out rules the filter refuses', async () => {
    const h = harness();
    try {
      h.scheduler.evaluateNow(() => false);
      await new Promise((r) => setImmediate(r));
      assert.equal(h.evaluations(), 0);
    } finally {
      await h.scheduler.stop(100);
    }
  });
});

/**
 * Every log rule type, three ways, over the real client against the loopback Elasticsearch:
 * firing (its values in the message the engine rendered and stored), clear (no findings), and
 * Elasticsearch failing (unknown: a firing alert neither resolves nor re-fires, a new one does not
 * fire; once ES answers again the same data resolves it — so the failed tick had something to hide).
 * Observations are hand-made Odoo/Patroni log documents as the ingest pipelines write them.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { RULE_TYPES } from '../../src/rules/registry.js';
import type { Evaluation } from '../../src/rules/rule-type.js';
import type { JsonObject } from '../support/fake-elasticsearch.js';
import { MIN, T0, isoAt, odooDoc, startHarness, type Harness } from './harness.js';

const S = 1000;
const ODOO = 'logs-odoo.app-default';
const PATRONI = 'logs-patroni.log-default';
/** now − ingest_delay (30 s in the harness): the end of what a tick at `at` reads. */
const endOf = (at: number): number => at - 30 * S;

interface Case {
  type: string;
  rule: Record<string, unknown>;
  /** Documents that make the rule fire at `at`. */
  fire(at: number): Array<[string, JsonObject[]]>;
  /** Documents that leave the rule clear at `at` (also after `fire`'s, `later` ms after them). */
  clear(at: number): Array<[string, JsonObject[]]>;
  /** The labels of every alert `fire` raises, and what each one's message must say. */
  firing: Record<string, RegExp>;
  /** Time from the firing tick to the tick where `clear`'s documents resolve it (default 1 min). */
  later?: number;
}

const cron = (t: number, host: string, message: string, over: JsonObject = {}): JsonObject =>
  odooDoc(t, {
    host: { name: host },
    log: { level: 'INFO', logger: 'odoo.addons.base.models.ir_cron' },
    message,
    ...over,
  });
const tagged = (name: string, id: number) => ({ odoo: { db: 'prod', event: 'cron_started', cron: { name, id } } });
const times = (n: number, at: (i: number) => number, over: JsonObject = {}): JsonObject[] =>
  Array.from({ length: n }, (_, i) => odooDoc(at(i), over));

const cases: Case[] = [
  {
    type: 'log_frequency',
    rule: { query: 'log.level:ERROR', window: '5m', threshold: 5, group_by: ['host.name'] },
    fire: (at) => [[ODOO, times(6, (i) => endOf(at) - 270 * S + i * S, { host: { name: 'odoo1' } })]],
    clear: (at) => [[ODOO, times(4, (i) => endOf(at) - 20 * S + i * S, { host: { name: 'odoo1' } })]],
    firing: { odoo1: /^6 matching log lines in 5m \(threshold 5\) .*odoo1/ },
  },
  {
    type: 'log_spike',
    rule: { query: 'message:spikey', window: '5m', spike_height: 3, min_current: 10 },
    fire: (at) => [
      [
        ODOO,
        [
          ...times(2, (i) => endOf(at) - 9 * MIN + i * S, { message: 'spikey' }),
          ...times(12, (i) => endOf(at) - 270 * S + i * S, { message: 'spikey' }),
        ],
      ],
    ],
    clear: (at) => [
      [
        ODOO,
        [
          ...times(5, (i) => endOf(at) - 9 * MIN + i * S, { message: 'spikey' }),
          ...times(5, (i) => endOf(at) - 20 * S + i * S, { message: 'spikey' }),
        ],
      ],
    ],
    firing: { '-': /^log volume up: 12 in the last 5m vs 2 before/ },
  },
  {
    type: 'log_flatline',
    rule: {
      index: 'patroni',
      query: 'message:heartbeat',
      window: '2m',
      group_by: ['host.name'],
      expected: ['pg1', 'pg2', 'pg3'],
    },
    fire: (at) => [
      [
        PATRONI,
        [
          odooDoc(endOf(at) - 30 * S, { host: { name: 'pg1' }, message: 'heartbeat from pg1' }),
          odooDoc(endOf(at) - 30 * MIN, { host: { name: 'pg2' }, message: 'heartbeat from pg2' }),
        ],
      ],
    ],
    clear: (at) => [
      [
        PATRONI,
        ['pg1', 'pg2', 'pg3'].map((n) =>
          odooDoc(endOf(at) - 10 * S, { host: { name: n }, message: `heartbeat from ${n}` }),
        ),
      ],
    ],
    firing: {
      pg2: new RegExp(
        `^only 0 log lines in 2m .*pg2.* \\(last seen ${isoAt(endOf(T0) - 30 * MIN).replace(/\./g, '\\.')}\\)`,
      ),
      pg3: /^only 0 log lines in 2m .*pg3/,
    },
  },
  {
    type: 'log_any',
    rule: { query: 'message:boom', window: '5m', group_by: ['odoo.db'] },
    fire: (at) => [
      [ODOO, times(2, (i) => endOf(at) - 60 * S + i * S, { message: 'boom: worker 4 died', odoo: { db: 'prod' } })],
    ],
    clear: (at) => [[ODOO, [odooDoc(endOf(at) - 10 * S, { message: 'all fine', odoo: { db: 'prod' } })]]],
    firing: { prod: /^2 matching log line\(s\) .*prod.*boom: worker 4 died/ },
  },
  {
    type: 'log_new_value',
    rule: { field: 'error.type', window: '5m' },
    fire: (at) => [
      [
        ODOO,
        [
          odooDoc(endOf(at) - 5 * 86_400_000, { error: { type: 'psycopg2.OperationalError' } }),
          odooDoc(endOf(at) - 60 * S, { error: { type: 'psycopg2.OperationalError' } }),
          odooDoc(endOf(at) - 50 * S, { error: { type: 'odoo.exceptions.CacheMiss' } }),
        ],
      ],
    ],
    clear: (at) => [
      [
        ODOO,
        [
          odooDoc(endOf(at) - 5 * 86_400_000, { error: { type: 'psycopg2.OperationalError' } }),
          odooDoc(endOf(at) - 10 * S, { error: { type: 'psycopg2.OperationalError' } }),
        ],
      ],
    ],
    firing: {
      'odoo.exceptions.CacheMiss': /^new error\.type odoo\.exceptions\.CacheMiss \(1 line\(s\), not seen in 30d\)/,
    },
  },
  {
    type: 'log_cron_overlap',
    rule: { window: '10m' },
    fire: (at) => [
      [
        ODOO,
        [
          cron(
            endOf(at) - 5 * MIN,
            'odoo1',
            "Job 'Mail: Email Queue Manager' (3) starting",
            tagged('Mail: Email Queue Manager', 3),
          ),
          cron(
            endOf(at) - 270 * S,
            'odoo2',
            "Job 'Mail: Email Queue Manager' (3) starting",
            tagged('Mail: Email Queue Manager', 3),
          ),
        ],
      ],
    ],
    // The same job on two hosts, one after the other (a finish in between): no overlap.
    clear: (at) => [
      [
        ODOO,
        [
          cron(endOf(at) - 3 * MIN, 'odoo1', 'Starting job `Scheduler`.'),
          cron(endOf(at) - 2 * MIN, 'odoo1', 'Job `Scheduler` done.'),
          cron(endOf(at) - 1 * MIN, 'odoo2', 'Starting job `Scheduler`.'),
        ],
      ],
    ],
    firing: {
      'prod/Mail: Email Queue Manager':
        /^cron "Mail: Email Queue Manager" on db prod ran concurrently on odoo1, odoo2 \(1x in 10m\)/,
    },
    later: 6 * MIN,
  },
];

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function setup(): Promise<Harness> {
  h = await startHarness();
  h.es.createIndex(ODOO);
  h.es.createIndex(PATRONI);
  return h;
}
const index = (x: Harness, docs: Array<[string, JsonObject[]]>): void => {
  for (const [i, d] of docs) x.es.indexDocs(i, d);
};
const alertKey = (labels: Record<string, string>): string => Object.values(labels).join('/') || '-';
const stateOf = async (x: Harness, ruleId: string): Promise<Record<string, string>> =>
  Object.fromEntries((await x.store.alertsForRule(ruleId)).map((a) => [alertKey(a.labels), a.state]));
const failedOn = (ev: Evaluation): string =>
  ev.ok ? assert.fail(`expected a failed evaluation, got ${ev.findings.length} finding(s)`) : ev.error;

describe('every log rule type: firing, clear, Elasticsearch failing', () => {
  it('the table covers every rule type that reads Elasticsearch', () => {
    const logTypes = RULE_TYPES.filter((t) => t.source === 'elasticsearch')
      .map((t) => t.type)
      .sort();
    assert.deepEqual(cases.map((c) => c.type).sort(), logTypes);
  });

  for (const c of cases) {
    describe(c.type, () => {
      const ruleOf = (x: Harness) => x.rule({ id: c.type, type: c.type, ...c.rule });

      it('firing: one alert per finding, its values in the stored message', async () => {
        const x = await setup();
        index(x, c.fire(T0));
        const rule = ruleOf(x);
        const t = await x.tick(rule, T0);
        assert.equal(t.ev.ok, true, t.ev.ok ? '' : t.ev.error);
        assert.deepEqual(t.firing.sort(), Object.keys(c.firing).sort());
        for (const a of await x.store.alertsForRule(rule.id)) {
          const key = alertKey(a.labels);
          assert.equal(a.state, 'firing', key);
          assert.match(a.message, c.firing[key]!, `message of ${key}`);
        }
      });

      it('clear: no findings, nothing fires', async () => {
        const x = await setup();
        index(x, c.clear(T0));
        const t = await x.tick(ruleOf(x), T0);
        assert.deepEqual(t.ev.ok && t.ev.findings, []);
        assert.deepEqual(t.firing, []);
      });

      it('Elasticsearch failing: unknown — nothing resolves or fires; the same data resolves once ES answers', async () => {
        const x = await setup();
        const rule = ruleOf(x);
        index(x, c.fire(T0));
        // Failing from the first tick: not "no findings", and nothing fires.
        x.es.fail({ status: 503 }, 5);
        const t0 = await x.tick(rule, T0 - 30 * S);
        assert.match(failedOn(t0.ev), /503|unavailable|search_phase_execution_exception|all shards failed/i);
        assert.deepEqual([t0.firing, t0.resolved], [[], []]);
        x.es.clearFaults();

        const t1 = await x.tick(rule, T0);
        assert.deepEqual(t1.firing.sort(), Object.keys(c.firing).sort());
        const at = T0 + (c.later ?? MIN);
        index(x, c.clear(at));
        x.es.fail({ status: 503 }, 5);
        const t2 = await x.tick(rule, at);
        failedOn(t2.ev);
        assert.deepEqual([t2.firing, t2.resolved], [[], []]);
        assert.deepEqual(
          Object.values(await stateOf(x, rule.id)),
          Object.keys(c.firing).map(() => 'firing'),
        );
        x.es.clearFaults();

        const t3 = await x.tick(rule, at + S);
        assert.equal(t3.ev.ok, true, t3.ev.ok ? '' : t3.ev.error);
        assert.deepEqual(t3.resolved.sort(), Object.keys(c.firing).sort());
      });
    });
  }
});

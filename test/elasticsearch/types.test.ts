import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { classifyCronLine } from '../../src/rules/types/log-cron-overlap.js';
import { MIN, T0, isoAt, odooDoc, ranges, startHarness, type Harness } from './harness.js';

const S = 1000;
const ODOO = 'logs-odoo.app-default';
const END = T0 - 30 * S; // now − ingest_delay at T0

describe('log rule types over the real client and the fake', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    h.es.createIndex(ODOO);
  });
  after(async () => h.close());

  it('log_frequency: per group_by (db, host) over a sliding window; resolves when the rate drops', async () => {
    const docs = [];
    for (let i = 0; i < 5; i++)
      docs.push(odooDoc(END - 4 * MIN + i * S, { host: { name: 'odoo1' }, odoo: { db: 'prod' } }));
    for (let i = 0; i < 2; i++)
      docs.push(odooDoc(END - 4 * MIN + i * S, { host: { name: 'odoo2' }, odoo: { db: 'prod' } }));
    h.es.indexDocs(ODOO, docs);
    const rule = h.rule({
      id: 'freq',
      type: 'log_frequency',
      query: 'log.level:(ERROR OR CRITICAL)',
      window: '5m',
      threshold: 5,
      group_by: ['odoo.db', 'host.name'],
    });
    const t1 = await h.tick(rule, T0);
    assert.deepEqual(t1.firing, ['prod/odoo1']);
    const f = t1.ev.ok ? t1.ev.findings[0]! : assert.fail();
    assert.deepEqual(f.labels, { odoo_db: 'prod', host_name: 'odoo1' });
    assert.equal(f.values['count'], 5);
    assert.equal(f.samples?.length, 3);
    assert.match(f.samples![0]!, /odoo1 \[prod\] ERROR odoo\.sql_db: bad query/);
    const body = h.msearches().at(-1)![1] as Record<string, unknown>;
    assert.deepEqual(ranges(body), [[isoAt(END - 5 * MIN), isoAt(END)]]);
    // 30 s later the window still holds the burst: no gap, no duplicate notification.
    const t2 = await h.tick(rule, T0 + 30 * S);
    assert.deepEqual(ranges(h.msearches().at(-1)![1]), [[isoAt(END + 30 * S - 5 * MIN), isoAt(END + 30 * S)]]);
    assert.deepEqual([t2.firing, t2.resolved], [[], []]);
    // Once the burst slid out of the window, the alert resolves.
    const t3 = await h.tick(rule, T0 + 2 * MIN);
    assert.deepEqual(t3.resolved, ['prod/odoo1']);
  });

  it('log_frequency: after a gap longer than the window, the missed windows are evaluated too (one _msearch)', async () => {
    const rule = h.rule({ id: 'freq-gap', type: 'log_frequency', query: 'message:burst', window: '5m', threshold: 3 });
    await h.tick(rule, T0);
    // A burst 20 minutes later, then the service is down for 30 minutes.
    h.es.indexDocs(
      ODOO,
      [0, 1, 2].map((i) => odooDoc(END + 20 * MIN + i * S, { message: 'burst' })),
    );
    const before = h.msearches().length;
    const t = await h.tick(rule, T0 + 30 * MIN);
    assert.equal(h.msearches().length, before + 1, 'one _msearch for all catch-up windows');
    const lines = h.msearches().at(-1)!;
    assert.equal(lines.length / 2, 6, 'windows ending at end, end−5m … back to the previous end');
    assert.deepEqual(ranges(lines[1]), [[isoAt(END + 25 * MIN), isoAt(END + 30 * MIN)]]);
    assert.deepEqual(ranges(lines[11]), [[isoAt(END), isoAt(END + 5 * MIN)]]);
    assert.deepEqual(t.firing, ['-']);
    assert.equal(t.ev.ok && t.ev.findings[0]!.values['from'], isoAt(END + 20 * MIN));
  });

  it('log_spike: current vs previous window with minimum counts', async () => {
    const spikeAt = T0 + 3_600_000;
    const end = spikeAt - 30 * S;
    h.es.indexDocs(ODOO, [
      ...[0, 1].map((i) => odooDoc(end - 8 * MIN + i * S, { message: 'spikey' })),
      ...Array.from({ length: 12 }, (_, i) => odooDoc(end - 2 * MIN + i * S, { message: 'spikey' })),
      ...Array.from({ length: 3 }, (_, i) =>
        odooDoc(end - 2 * MIN + i * S, { message: 'spikey', host: { name: 'odoo2' } }),
      ),
    ]);
    const rule = h.rule({
      id: 'spike',
      type: 'log_spike',
      query: 'message:spikey',
      window: '5m',
      spike_height: 3,
      min_current: 10,
      group_by: ['host.name'],
    });
    const t = await h.tick(rule, spikeAt);
    assert.deepEqual(t.firing, ['odoo1'], 'odoo2 (3 lines) stays under min_current');
    const v = t.ev.ok ? t.ev.findings[0]!.values : assert.fail();
    assert.deepEqual([v['count'], v['previous'], v['ratio'], v['direction']], [12, 2, 6, 'up']);
    assert.deepEqual(ranges(h.msearches().at(-1)![1]), [
      [isoAt(end - 10 * MIN), isoAt(end)],
      [isoAt(end - 5 * MIN), isoAt(end)],
      [isoAt(end - 10 * MIN), isoAt(end - 5 * MIN)],
    ]);
    const down = h.rule({
      id: 'spike-down',
      type: 'log_spike',
      query: 'message:spikey',
      window: '5m',
      spike_height: 3,
      direction: 'down',
      min_previous: 10,
    });
    const td = await h.tick(down, spikeAt + 5 * MIN);
    assert.deepEqual(td.firing, ['-'], '15 lines then 0: a drop');
  });

  it('log_flatline: per host, a host that went silent is listed; expected hosts alert even when never seen', async () => {
    const at = T0 + 2 * 3_600_000;
    const end = at - 30 * S;
    const PAT = 'logs-patroni.log-default';
    h.es.indexDocs(PAT, [
      odooDoc(end - 60 * S, {
        host: { name: 'pg1' },
        patroni: { event: 'heartbeat' },
        message: 'no action. I am (pg1), the leader with the lock',
      }),
      odooDoc(end - 30 * MIN, {
        host: { name: 'pg2' },
        patroni: { event: 'heartbeat' },
        message: 'no action. I am (pg2), a secondary, and following a leader (pg1)',
      }),
    ]);
    const rule = h.rule({
      id: 'flat',
      type: 'log_flatline',
      index: 'patroni',
      filters: [{ terms: { 'patroni.event': ['heartbeat', 'paused'] } }],
      window: '2m',
      group_by: ['host.name'],
      expected: ['pg1', 'pg2', 'pg3'],
    });
    const t = await h.tick(rule, at);
    assert.deepEqual(t.firing.sort(), ['pg2', 'pg3']);
    const pg2 = t.ev.ok ? t.ev.findings.find((f) => f.labels['host_name'] === 'pg2')! : assert.fail();
    assert.equal(pg2.values['last_seen'], isoAt(end - 30 * MIN));
    assert.match(pg2.samples![0]!, /pg2 .*following a leader/);
    assert.equal(h.msearches().at(-1)![0]!['index'], 'logs-patroni.log-*');
    // pg2 and pg3 start logging again → resolved.
    h.es.indexDocs(
      PAT,
      ['pg2', 'pg3'].map((n) => odooDoc(end + 20 * S, { host: { name: n }, patroni: { event: 'heartbeat' } })),
    );
    const t2 = await h.tick(rule, at + 30 * S);
    assert.deepEqual(t2.resolved.sort(), ['pg2', 'pg3']);
  });

  it('log_new_value: a value first seen in the slice alerts; a known one does not', async () => {
    const at = T0 + 3 * 3_600_000;
    const end = at - 30 * S;
    h.es.indexDocs(ODOO, [
      odooDoc(end - 5 * 86_400_000, { error: { type: 'psycopg2.OperationalError' } }),
      odooDoc(end - 60 * S, { error: { type: 'psycopg2.OperationalError' } }),
      odooDoc(end - 50 * S, { error: { type: 'odoo.exceptions.CacheMiss' }, message: 'new kind of failure' }),
    ]);
    const rule = h.rule({ id: 'newv', type: 'log_new_value', field: 'error.type', window: '5m' });
    const t = await h.tick(rule, at);
    assert.deepEqual(t.firing, ['odoo.exceptions.CacheMiss']);
    assert.deepEqual(t.ev.ok && t.ev.findings[0]!.labels, { error_type: 'odoo.exceptions.CacheMiss' });
    const t2 = await h.tick(rule, at + 30 * S);
    assert.deepEqual(t2.resolved, ['odoo.exceptions.CacheMiss']);
  });

  it('log_cron_overlap: same job started on two hosts without a finish in between, any cron wording', async () => {
    const at = T0 + 4 * 3_600_000;
    const end = at - 30 * S;
    const cron = (t: number, host: string, message: string, over = {}) =>
      odooDoc(t, {
        host: { name: host },
        log: { level: 'INFO', logger: 'odoo.addons.base.models.ir_cron' },
        message,
        ...over,
      });
    h.es.indexDocs(ODOO, [
      // Variant (c) wording, tagged by the pipeline: overlap on odoo1/odoo2.
      cron(end - 10 * MIN, 'odoo1', "Job 'Mail: Email Queue Manager' (3) starting", {
        odoo: { db: 'prod', event: 'cron_started', cron: { name: 'Mail: Email Queue Manager', id: 3 } },
      }),
      cron(end - 9 * MIN, 'odoo2', "Job 'Mail: Email Queue Manager' (3) starting", {
        odoo: { db: 'prod', event: 'cron_started', cron: { name: 'Mail: Email Queue Manager', id: 3 } },
      }),
      // Variant (a) wording, untagged: sequential on two hosts (finish in between) → no overlap.
      cron(end - 8 * MIN, 'odoo1', 'Starting job `Scheduler`.'),
      cron(end - 7 * MIN, 'odoo1', 'Job `Scheduler` done.'),
      cron(end - 6 * MIN, 'odoo2', 'Starting job `Scheduler`.'),
      // Variant (d) wording, untagged, other db: overlap.
      cron(end - 5 * MIN, 'odoo1', "Job 'Autovacuum' (1) starting", { odoo: { db: 'staging' } }),
      cron(end - 4 * MIN, 'odoo2', "Job 'Autovacuum' (1) starting", { odoo: { db: 'staging' } }),
      cron(end - 3 * MIN, 'odoo1', "Job 'Autovacuum' (1) fully done (#loop 1; done 0; remaining 0; duration 0.12s)", {
        odoo: { db: 'staging' },
      }),
    ]);
    const rule = h.rule({ id: 'cron', type: 'log_cron_overlap', window: '30m' });
    const t = await h.tick(rule, at);
    assert.deepEqual(t.firing.sort(), ['prod/Mail: Email Queue Manager', 'staging/Autovacuum']);
    const f = t.ev.ok ? t.ev.findings.find((x) => x.labels['cron'] === 'Autovacuum')! : assert.fail();
    assert.equal(f.values['hosts'], 'odoo1, odoo2');
  });

  it('classifyCronLine understands the wording of several Odoo versions', () => {
    const c = (message: string) => classifyCronLine({ message });
    assert.deepEqual(c('Starting job `Mail Queue`.'), { kind: 'start', name: 'Mail Queue' });
    assert.deepEqual(c('Job `Mail Queue` done.'), { kind: 'finish', name: 'Mail Queue' });
    assert.deepEqual(c('Job done: `Mail Queue` (0.123s).'), { kind: 'finish', name: 'Mail Queue' });
    assert.deepEqual(c("Job 'Mail Queue' (3) starting"), { kind: 'start', name: 'Mail Queue', id: '3' });
    assert.deepEqual(c("Job 'Mail Queue' (3) done in 0.125s"), { kind: 'finish', name: 'Mail Queue', id: '3' });
    assert.deepEqual(c('Job "Bob\'s job" (4) partially done (#loop 2; done 10; remaining 5; duration 1.00s)'), {
      kind: 'finish',
      name: "Bob's job",
      id: '4',
    });
    assert.equal(c('Job `x`: 3 records processed and 0 records remaining.'), undefined);
  });
});

/**
 * Truth under faults: lines that reach Elasticsearch late (Filebeat's backlog after an outage) are
 * counted exactly once; an outage is unknown for a flatline, not a page; a clock step backwards
 * neither resolves nor counts twice. The fake stamps event.ingested with its clock, as the
 * pipelines do with _ingest.timestamp.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Harness } from './harness.js';
import { T0, odooDoc, startHarness } from './harness.js';

const S = 1000;
const ODOO = 'logs-odoo.app-default';

/** A harness whose ES clock is `clock.now` and which stamps event.ingested on indexing. */
async function lab(): Promise<{ h: Harness; clock: { now: number } }> {
  const clock = { now: T0 };
  const h = await startHarness({ fake: { now: () => clock.now, ingestTimestamp: true } });
  h.es.createIndex(ODOO);
  return { h, clock };
}

/** A line written at `writtenAt`, to be indexed whenever the test says (event.ingested = the fake's now then). */
const line = (writtenAt: number, over: Record<string, unknown> = {}) => {
  const d = odooDoc(writtenAt, {
    log: { level: 'CRITICAL', logger: 'odoo.service.server' },
    message: `CRITICAL at +${(writtenAt - T0) / S}s`,
    ...over,
  });
  delete (d as { event?: unknown }).event;
  return d;
};

describe('an Elasticsearch outage of 20 s, CRITICAL lines from it indexed 8 s after recovery', () => {
  it('log_any: exactly one alert, the lines counted once', async () => {
    const { h, clock } = await lab();
    try {
      const rule = h.rule(
        { id: 'crit', type: 'log_any', query: 'log.level:CRITICAL', window: '5m', ingest_delay: '5s' },
        { every: 10 * S },
      );
      const firing: string[] = [];
      let counted = 0;
      const tick = async (at: number) => {
        clock.now = at;
        const t = await h.tick(rule, at);
        firing.push(...t.firing);
        if (t.ev.ok) for (const f of t.ev.findings) counted += Number(f.values['count']);
        return t;
      };
      await tick(T0);
      await tick(T0 + 10 * S);
      // Outage [T0+20s, T0+40s): every request fails, Filebeat cannot ship either.
      h.es.fail({ status: 503, type: 'cluster_block_exception', reason: 'blocked' }, 1000);
      assert.equal((await tick(T0 + 20 * S)).ev.ok, false);
      assert.equal((await tick(T0 + 30 * S)).ev.ok, false);
      h.es.clearFaults();
      assert.equal((await tick(T0 + 40 * S)).ev.ok, true);
      // 8 s after recovery Filebeat ships the backlog: written during the outage, arriving now.
      clock.now = T0 + 48 * S;
      h.es.indexDocs(ODOO, [line(T0 + 22 * S), line(T0 + 27 * S), line(T0 + 33 * S)]);
      for (let at = T0 + 50 * S; at <= T0 + 120 * S; at += 10 * S) await tick(at);
      assert.deepEqual(firing, ['-'], 'one alert');
      assert.equal(counted, 3, 'each late line counted once');
    } finally {
      await h.close();
    }
  });

  it('log_new_value: a new error.type first written during the outage is reported once', async () => {
    const { h, clock } = await lab();
    try {
      const rule = h.rule(
        { id: 'nv', type: 'log_new_value', field: 'error.type', ingest_delay: '5s' },
        { every: 10 * S },
      );
      const firing: string[] = [];
      for (let at = T0; at <= T0 + 120 * S; at += 10 * S) {
        clock.now = at;
        if (at === T0 + 20 * S) h.es.fail({ status: 503 }, 1000);
        if (at === T0 + 40 * S) h.es.clearFaults();
        if (at === T0 + 50 * S) {
          clock.now = T0 + 48 * S;
          h.es.indexDocs(ODOO, [line(T0 + 25 * S, { error: { type: 'psycopg2.errors.ReadOnlySqlTransaction' } })]);
          clock.now = at;
        }
        firing.push(...(await h.tick(rule, at)).firing);
      }
      assert.deepEqual(firing, ['psycopg2.errors.ReadOnlySqlTransaction']);
    } finally {
      await h.close();
    }
  });

  it('log_frequency (1 m on arrival time): the burst is seen once the backlog arrives', async () => {
    const { h, clock } = await lab();
    try {
      const rule = h.rule(
        {
          id: 'freq',
          type: 'log_frequency',
          query: 'log.level:CRITICAL',
          window: '1m',
          ingest_delay: '5s',
          threshold: 3,
        },
        { every: 10 * S },
      );
      const firing: string[] = [];
      for (let at = T0; at <= T0 + 120 * S; at += 10 * S) {
        clock.now = at;
        if (at === T0 + 20 * S) h.es.fail({ status: 503 }, 1000);
        if (at === T0 + 40 * S) h.es.clearFaults();
        if (at === T0 + 50 * S) {
          clock.now = T0 + 48 * S;
          h.es.indexDocs(ODOO, [line(T0 + 22 * S), line(T0 + 27 * S), line(T0 + 33 * S)]);
          clock.now = at;
        }
        firing.push(...(await h.tick(rule, at)).firing);
      }
      assert.deepEqual(firing, ['-']);
    } finally {
      await h.close();
    }
  });

  it('log_flatline: the outage and the window after it are unknown (no page); a real silence still pages', async () => {
    const { h, clock } = await lab();
    try {
      const rule = h.rule(
        {
          id: 'flat',
          type: 'log_flatline',
          window: '30s',
          ingest_delay: '5s',
          group_by: ['host.name'],
          expected: ['odoo1'],
        },
        { every: 10 * S },
      );
      const heartbeat = (from: number, to: number) => {
        for (let t = from; t < to; t += 2 * S) {
          clock.now = t;
          h.es.indexDocs(
            ODOO,
            [odooDoc(t, { log: { level: 'INFO', logger: 'odoo.http' } })].map((d) => {
              delete (d as { event?: unknown }).event;
              return d;
            }),
          );
        }
      };
      const evs: { at: number; ok: boolean; firing: string[]; error?: string }[] = [];
      const tick = async (at: number) => {
        clock.now = at;
        const t = await h.tick(rule, at);
        evs.push({ at: (at - T0) / S, ok: t.ev.ok, firing: t.firing, ...(t.ev.ok ? {} : { error: t.ev.error }) });
      };
      heartbeat(T0 - 60 * S, T0 + 20 * S);
      await tick(T0);
      await tick(T0 + 10 * S);
      h.es.fail({ status: 503 }, 1000); // outage [T0+20s, T0+60s): Filebeat queues, we cannot read
      await tick(T0 + 20 * S);
      await tick(T0 + 30 * S);
      await tick(T0 + 40 * S);
      await tick(T0 + 50 * S);
      h.es.clearFaults();
      await tick(T0 + 60 * S);
      // Unknown, yet the cursor records how far it read (so the unknown period is bounded).
      assert.deepEqual(await h.store.getCursor(rule.id), { end: T0 + 55 * S, blindUntil: T0 + 55 * S });
      // The backlog arrives 8 s after recovery; then odoo1 really goes silent.
      clock.now = T0 + 68 * S;
      h.es.indexDocs(
        ODOO,
        Array.from({ length: 20 }, (_, i) => {
          const d = odooDoc(T0 + 20 * S + i * 2 * S);
          delete (d as { event?: unknown }).event;
          return d;
        }),
      );
      for (let at = T0 + 70 * S; at <= T0 + 120 * S; at += 10 * S) await tick(at);
      const fired = evs.filter((e) => e.firing.length > 0);
      assert.ok(
        evs.find((e) => e.at === 60)?.ok === false,
        `right after recovery the window [25s, 55s) had no arrivals: unknown (${JSON.stringify(evs.find((e) => e.at === 60))})`,
      );
      assert.match(evs.find((e) => e.at === 60)?.error ?? '', /flatline unknown until/);
      assert.equal(evs.find((e) => e.at === 80)?.ok, true, 'the backlog arrived: known again, and logging');
      assert.deepEqual(
        fired.map((e) => e.at),
        [110],
        `only the real silence pages: ${JSON.stringify(evs)}`,
      );
    } finally {
      await h.close();
    }
  });
});

describe('log_spike down right after an outage', () => {
  it('is unknown while the current window reaches back into the outage; a real drop still fires', async () => {
    const { h, clock } = await lab();
    try {
      const rule = h.rule(
        {
          id: 'down',
          type: 'log_spike',
          window: '30s',
          ingest_delay: '5s',
          spike_height: 2,
          direction: 'down',
          min_previous: 10,
        },
        { every: 10 * S },
      );
      const ship = (from: number, to: number) => {
        const docs = [];
        for (let t = from; t < to; t += S) {
          const d = odooDoc(t, { log: { level: 'INFO', logger: 'odoo.http' } });
          delete (d as { event?: unknown }).event;
          docs.push(d);
        }
        h.es.indexDocs(ODOO, docs);
      };
      const evs: Record<number, { ok: boolean; firing: string[] }> = {};
      const tick = async (at: number) => {
        clock.now = at;
        const t = await h.tick(rule, at);
        evs[(at - T0) / S] = { ok: t.ev.ok, firing: t.firing };
      };
      clock.now = T0;
      ship(T0 - 60 * S, T0 + 20 * S);
      await tick(T0);
      await tick(T0 + 10 * S);
      h.es.fail({ status: 503 }, 1000);
      await tick(T0 + 20 * S);
      await tick(T0 + 40 * S);
      h.es.clearFaults();
      await tick(T0 + 60 * S); // lines written during the outage are not shipped yet: the current window looks empty
      clock.now = T0 + 68 * S;
      ship(T0 + 20 * S, T0 + 68 * S); // the backlog, 8 s after recovery; then logging stops for real
      for (let at = T0 + 70 * S; at <= T0 + 130 * S; at += 10 * S) await tick(at);
      assert.equal(evs[60]?.ok, false, 'unknown, not a drop');
      assert.deepEqual(evs[60]?.firing, []);
      assert.equal(evs[70]?.ok, true);
      const fired = Object.entries(evs)
        .filter(([, e]) => e.firing.length > 0)
        .map(([k]) => Number(k));
      assert.ok(fired.length === 1 && fired[0]! >= 90, `only the real drop fires: ${JSON.stringify(evs)}`);
    } finally {
      await h.close();
    }
  });
});

describe('a clock step backwards', () => {
  it('log_any: neither resolves nor counts twice; the cursor never moves back', async () => {
    const { h, clock } = await lab();
    try {
      const rule = h.rule(
        { id: 'step', type: 'log_any', query: 'log.level:CRITICAL', window: '5m', ingest_delay: '5s' },
        { every: 10 * S },
      );
      clock.now = T0 + 90 * S;
      h.es.indexDocs(ODOO, [line(T0 + 90 * S)]);
      await h.tick(rule, T0 + 80 * S);
      clock.now = T0 + 100 * S;
      const t1 = await h.tick(rule, T0 + 100 * S);
      assert.deepEqual(t1.firing, ['-']);
      const cursor = await h.store.getCursor(rule.id);
      // NTP steps the clock back 60 s.
      for (const at of [T0 + 40 * S, T0 + 50 * S, T0 + 100 * S]) {
        clock.now = at;
        const t = await h.tick(rule, at);
        assert.equal(t.ev.ok, false, `+${(at - T0) / S}s`);
        assert.match(t.ev.ok ? '' : t.ev.error, /clock stepped back (1m|50s): |no time has passed since /);
        assert.deepEqual(t.resolved, []);
        assert.deepEqual(await h.store.getCursor(rule.id), cursor, 'cursor unchanged');
      }
      assert.deepEqual(
        (await h.store.alertsForRule(rule.id)).map((a) => a.state),
        ['firing'],
      );
      // Time passes the cursor again: the next slice starts where the last one ended, nothing re-counted.
      clock.now = T0 + 110 * S;
      const t2 = await h.tick(rule, T0 + 110 * S);
      assert.equal(t2.ev.ok, true);
      assert.deepEqual(t2.ev.ok && t2.ev.findings, []);
      assert.deepEqual(t2.resolved, ['-']);
    } finally {
      await h.close();
    }
  });

  it('log_flatline (sliding): does not resolve on a window moved back in time', async () => {
    const { h, clock } = await lab();
    try {
      const rule = h.rule(
        { id: 'flat-step', type: 'log_flatline', window: '30s', ingest_delay: '5s' },
        { every: 10 * S },
      );
      clock.now = T0 - 10 * S;
      h.es.indexDocs(
        ODOO,
        [odooDoc(T0 - 10 * S)].map((d) => {
          delete (d as { event?: unknown }).event;
          return d;
        }),
      );
      let firing: string[] = [];
      for (let at = T0; at <= T0 + 60 * S; at += 10 * S) {
        clock.now = at;
        firing = firing.concat((await h.tick(rule, at)).firing);
      }
      assert.deepEqual(firing, ['-']);
      clock.now = T0 + 10 * S; // back to when the line was in the window
      const t = await h.tick(rule, T0 + 10 * S);
      assert.equal(t.ev.ok, false);
      assert.deepEqual(t.resolved, []);
    } finally {
      await h.close();
    }
  });
});

describe('documents without event.ingested (indexed before the pipelines set it)', () => {
  it('are windowed on @timestamp instead, still once', async () => {
    const h = await startHarness();
    try {
      h.es.createIndex(ODOO);
      const old = odooDoc(T0 - 60 * S);
      delete (old as { event?: unknown }).event;
      h.es.indexDocs(ODOO, [old]);
      const rule = h.rule({ id: 'old', type: 'log_any', window: '5m' }, { every: 30 * S });
      const t1 = await h.tick(rule, T0);
      assert.equal(t1.ev.ok && t1.ev.findings[0]?.values['count'], 1);
      const t2 = await h.tick(rule, T0 + 30 * S);
      assert.deepEqual(t2.ev.ok && t2.ev.findings, []);
    } finally {
      await h.close();
    }
  });
});

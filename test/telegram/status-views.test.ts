import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { lagView, statusView } from '../../src/bot/views.js';
import type {
  BackendStatus,
  HaproxyStatus,
  PatroniStatus,
  StatusMember,
  StatusSnapshot,
} from '../../src/status/snapshot.js';
import { parseTelegramHtml, TELEGRAM_MESSAGE_MAX } from '../support/telegram-html.js';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const MB = 1024 * 1024;

/** Valid for Telegram (the fake's parser = tdlib's rules), within the limit; returns the text as shown. */
function shown(html: string): string {
  const r = parseTelegramHtml(html);
  assert.ok(r.ok, `invalid HTML: ${r.ok ? '' : r.error}\n${html.slice(0, 800)}`);
  assert.ok(r.length <= TELEGRAM_MESSAGE_MAX, `too long: ${r.length}`);
  return r.text;
}

function member(name: string, over: Partial<StatusMember> = {}): StatusMember {
  return {
    name,
    role: 'replica',
    state: 'streaming',
    timeline: 5,
    lagBytes: 0,
    lagSeconds: 0.2,
    pgLagBytes: 0,
    restReachable: true,
    inDcs: true,
    isLeader: false,
    failoverCandidate: true,
    pendingRestart: false,
    ...over,
  };
}

const leader = (name = 'pg1', over: Partial<StatusMember> = {}) =>
  member(name, {
    role: 'leader',
    state: 'running',
    lagBytes: null,
    lagSeconds: null,
    pgLagBytes: null,
    isLeader: true,
    failoverCandidate: false,
    ...over,
  });

function patroni(members: StatusMember[], over: Partial<PatroniStatus> = {}): PatroniStatus {
  const l = members.find((m) => m.isLeader);
  return {
    ageMs: 3000,
    version: '4.0.4',
    ...(l ? { leader: l.name } : {}),
    leaderHealthy: !!l,
    ...(l ? {} : { leaderProblem: 'no leader in the DCS' }),
    timeline: 5,
    paused: false,
    maximumLagOnFailoverBytes: MB,
    members,
    failoverCandidates: members.filter((m) => m.failoverCandidate).map((m) => m.name),
    ...over,
  };
}

function backend(name: string, servers: [string, string][]): BackendStatus {
  return {
    name,
    status: 'UP',
    up: servers.filter(([, s]) => /^(UP|no check)/.test(s)).length,
    total: servers.length,
    servers: servers.map(([n, s]) => ({ name: n, status: s })),
  };
}

function haproxy(writeServers: [string, string][], leaderName = 'pg1'): HaproxyStatus {
  const w = backend('pg_write', writeServers);
  const upServer = w.up === 1 ? writeServers.find(([, s]) => s === 'UP')![0] : undefined;
  return {
    ageMs: 2000,
    write: { ...w, ...(upServer ? { upServer, upMember: upServer, matchesLeader: upServer === leaderName } : {}) },
    read: backend('pg_read', [
      ['pg1', 'UP'],
      ['pg2', 'UP'],
      ['pg3', 'DOWN'],
    ]),
    apps: [
      backend('odoo_workers', [
        ['odoo1', 'UP'],
        ['odoo2', 'MAINT'],
      ]),
    ],
  };
}

function snapshot(over: Partial<StatusSnapshot> = {}): StatusSnapshot {
  return {
    cluster: 'odoo-prod',
    at: T0,
    alerts: { firing: 1, pending: 2 },
    sources: [
      { name: 'patroni', state: 'ok', detail: 'leader pg1, timeline 5, 3/3 members answering', ageMs: 3000 },
      { name: 'haproxy', state: 'ok', detail: 'write pg_write: 1 UP (pg1)', ageMs: 2000 },
      { name: 'postgres', state: 'ok', detail: '3/3 nodes answering; primary: pg1', ageMs: 1000 },
      { name: 'etcd', state: 'not configured' },
      { name: 'elasticsearch', state: 'ok', detail: 'reachable', ageMs: 4000 },
    ],
    patroni: patroni([leader(), member('pg2'), member('pg3')]),
    haproxy: haproxy([
      ['pg1', 'UP'],
      ['pg2', 'DOWN'],
      ['pg3', 'DOWN'],
    ]),
    ...over,
  };
}

const withSource = (
  sources: StatusSnapshot['sources'],
  name: string,
  line: StatusSnapshot['sources'][number],
): StatusSnapshot['sources'] => sources.map((x) => (x.name === name ? line : x));

describe('/status view', () => {
  test('leader present: leader, member table (role, state, timeline, lag), write backend UP server, ages, alerts', () => {
    const text = shown(statusView(snapshot(), T0 + 5000));
    assert.match(text, /^📊 Cluster odoo-prod — 2026-11-25 12:00:00 UTC$/m);
    assert.match(text, /Alerts: 1 firing, 2 pending/);
    assert.match(text, /Patroni 4\.0\.4 · 8s old/, 'age = 3 s at build + 5 s since');
    assert.match(text, /👑 Leader pg1 · timeline 5/);
    assert.match(
      text,
      /MEMBER +ROLE +STATE +TL LAG\npg1 +leader +running +5 -\npg2 +replica +streaming +5 0 B\npg3 +replica +streaming +5 0 B/,
    );
    assert.match(text, /Failover candidates: pg2, pg3/);
    assert.match(text, /HAProxy · 7s old/);
    assert.match(text, /✅ Writes pg_write: 1 UP · 2 DOWN → pg1$/m);
    assert.match(text, /🟠 Reads pg_read: 2 UP · 1 DOWN/);
    assert.match(text, /🟠 App odoo_workers: 1 UP · 1 MAINT/);
    assert.match(text, /🟢 patroni: ok · 8s old/);
    assert.match(text, /🟢 postgres: ok — 3\/3 nodes answering; primary: pg1 · 6s old/);
    assert.match(text, /▫️ etcd: not configured$/m);
    assert.match(text, /🟢 elasticsearch: ok — reachable · 9s old/);
    const html = statusView(snapshot(), T0);
    assert.match(html, /<pre>MEMBER/, 'members in a monospace table');
    for (const l of text.split('\n')) assert.ok(l.length <= 64, `short lines for phones: ${l}`);
  });

  test('no leader: said so with the reason; no candidate invented', () => {
    const s = snapshot({
      patroni: patroni(
        [
          member('pg2', {
            failoverCandidate: false,
            notCandidateReason: 'lag unknown',
            lagBytes: null,
            pgLagBytes: null,
          }),
          member('pg3', { state: 'stopped', failoverCandidate: false, notCandidateReason: 'state stopped' }),
        ],
        { timeline: 5 },
      ),
    });
    const text = shown(statusView(s, T0));
    assert.match(text, /🚨 No leader: no leader in the DCS · timeline 5/);
    assert.ok(!/Leader pg/.test(text));
    assert.match(text, /pg2 +replica +streaming +5 no data/);
    assert.match(text, /pg3 +replica +stopped +5 0 B/);
    assert.match(text, /Failover candidates: none/);
  });

  test('unhealthy leader, paused cluster, unreachable member, pending restart, unknown timeline', () => {
    const s = snapshot({
      patroni: patroni(
        [
          leader('pg1'),
          member('pg2', {
            restReachable: false,
            state: 'unknown',
            timeline: undefined as unknown as number,
            lagBytes: null,
            pgLagBytes: null,
            failoverCandidate: false,
            notCandidateReason: 'state unknown',
          }),
          member('pg3', { pendingRestart: true }),
        ],
        {
          leaderHealthy: false,
          leaderProblem: 'PostgreSQL stopped',
          paused: true,
          scheduledSwitchover: 'pg1 → pg3 at 2026-11-25T13:00:00Z',
        },
      ),
    });
    delete (s.patroni!.members[1] as Partial<StatusMember>).timeline;
    const text = shown(statusView(s, T0));
    assert.match(text, /⚠️ Leader pg1: PostgreSQL stopped · timeline 5/);
    assert.match(text, /⏸ Paused: no automatic failover/);
    assert.match(text, /🔁 Switchover scheduled: pg1 → pg3 at 2026-11-25T13:00:00Z/);
    assert.match(text, /pg2 +replica +unknown +\? no data/);
    assert.match(text, /⚠️ pg2: REST API unreachable \(state from the DCS\)/);
    assert.match(text, /⚠️ pg3: pending restart/);
  });

  test('write backend with 0 UP: writes impossible; with 1 UP that is not the leader: flagged', () => {
    const zero = shown(
      statusView(
        snapshot({
          haproxy: haproxy([
            ['pg1', 'DOWN'],
            ['pg2', 'DOWN'],
            ['pg3', 'MAINT'],
          ]),
        }),
        T0,
      ),
    );
    assert.match(zero, /🚨 Writes pg_write: 0 UP · 2 DOWN · 1 MAINT — no server takes writes/);
    const one = shown(
      statusView(
        snapshot({
          haproxy: haproxy([
            ['pg1', 'DOWN'],
            ['pg2', 'UP'],
            ['pg3', 'DOWN'],
          ]),
        }),
        T0,
      ),
    );
    assert.match(one, /⚠️ Writes pg_write: 1 UP · 2 DOWN → pg2 — not the Patroni leader/);
    const two = shown(
      statusView(
        snapshot({
          haproxy: haproxy([
            ['pg1', 'UP'],
            ['pg2', 'UP'],
            ['pg3', 'DOWN'],
          ]),
        }),
        T0,
      ),
    );
    assert.match(two, /🚨 Writes pg_write: 2 UP · 1 DOWN — more than one server takes writes/);
    const missing = snapshot({ haproxy: { ageMs: 0, apps: [] } });
    assert.match(shown(statusView(missing, T0)), /⚠️ Writes: write backend not found in the stats/);
  });

  test('write backend on the seed naming: server pg1 is member pg-node-1 (matched by address); unknown member is not ✅', () => {
    const w = haproxy([
      ['pg1', 'UP'],
      ['pg2', 'DOWN'],
      ['pg3', 'DOWN'],
    ]);
    const seed = shown(
      statusView(
        snapshot({ haproxy: { ...w, write: { ...w.write!, upMember: 'pg-node-1', matchesLeader: true } } }),
        T0,
      ),
    );
    assert.match(seed, /✅ Writes pg_write: 1 UP · 2 DOWN → pg1 \(pg-node-1\)$/m);
    const { upMember: _drop, matchesLeader: _m, ...unmatched } = w.write!;
    const unknown = shown(statusView(snapshot({ haproxy: { ...w, write: unmatched } }), T0));
    assert.match(
      unknown,
      /❔ Writes pg_write: 1 UP · 2 DOWN → pg1 — Patroni member unknown \(see odoo-ha-watch check\)$/m,
    );
  });

  test('sources without data: "unreachable" / "not configured" / "no data", never a made-up value', () => {
    const base = snapshot();
    const s: StatusSnapshot = {
      ...base,
      patroni: undefined,
      haproxy: undefined,
      sources: withSource(
        withSource(
          withSource(base.sources, 'patroni', {
            name: 'patroni',
            state: 'unreachable',
            detail: 'unreachable: no Patroni member answered',
            ageMs: 1000,
          }),
          'haproxy',
          { name: 'haproxy', state: 'not configured' },
        ),
        'elasticsearch',
        {
          name: 'elasticsearch',
          state: 'unreachable',
          detail: 'unreachable: connect ECONNREFUSED 10.0.0.9:9200',
          ageMs: 0,
        },
      ),
    };
    delete s.patroni;
    delete s.haproxy;
    const text = shown(statusView(s, T0 + 1000));
    assert.match(text, /🔴 Patroni: unreachable — unreachable: no Patroni member answered · 2s old/);
    assert.match(text, /Leader and members: no data/);
    assert.match(text, /▫️ HAProxy: not configured/);
    assert.match(text, /🔴 elasticsearch: unreachable — unreachable: connect ECONNREFUSED 10\.0\.0\.9:9200 · 1s old/);
    assert.ok(!/Leader pg|Writes|MEMBER/.test(text));

    const fresh = snapshot({
      sources: withSource(base.sources, 'elasticsearch', {
        name: 'elasticsearch',
        state: 'no data',
        detail: 'this build does not poll it yet',
      }),
    });
    assert.match(shown(statusView(fresh, T0)), /⚪ elasticsearch: no data — this build does not poll it yet$/m);
  });

  test('HTML-hostile names and values are escaped and shown literally', () => {
    const evil = '<b>pg&1</b>"';
    const s = snapshot({
      cluster: '<odoo & prod>',
      patroni: patroni([leader(evil, { state: '<running>' }), member('pg2<x>', { role: '<odd>' })], {
        version: '<4>',
        leaderHealthy: false,
        leaderProblem: '</pre><script>',
        scheduledSwitchover: '&amp; <now>',
      }),
      haproxy: {
        ageMs: 0,
        write: { ...backend('<write>', [[evil, 'UP']]), upServer: evil, matchesLeader: true },
        apps: [backend('a&b', [['<s>', 'DOWN <x>']])],
      },
      sources: withSource(snapshot().sources, 'postgres', {
        name: 'postgres',
        state: 'unreachable',
        detail: '<pre>boom</pre> & more',
        ageMs: 0,
      }),
    });
    const html = statusView(s, T0);
    const text = shown(html);
    for (const v of [
      '<odoo & prod>',
      evil,
      '<running>',
      'pg2<x>',
      '<odd>',
      '</pre><script>',
      '&amp; <now>',
      '<write>',
      'a&b',
      '1 DOWN',
      '<pre>boom</pre> & more',
    ])
      assert.ok(text.includes(v), v);
    assert.equal((html.match(/<pre>/g) ?? []).length, 1, 'one <pre> (the member table), none injected');
    assert.ok(!html.includes('<script>') && !html.includes('<b>pg&1'));
    shown(lagView(s, T0));
  });

  test('many members and long details still fit one message', () => {
    const members = [leader('pg0'), ...Array.from({ length: 150 }, (_, i) => member(`member-${i}-${'x'.repeat(20)}`))];
    const s = snapshot({
      patroni: patroni(members),
      sources: snapshot().sources.map((x) => ({ ...x, detail: '<&>'.repeat(2000) })),
    });
    const text = shown(statusView(s, T0));
    assert.match(text, /MEMBER +ROLE +STATE +TL LAG\npg0 +leader/, 'the table is kept, cut at a row boundary');
    assert.match(text, /…and \d+ more member\(s\)/);
    assert.match(shown(lagView(s, T0)), /…and \d+ more$/);
    const huge = snapshot({ patroni: patroni([leader('<'.repeat(5000)), member('pg2')]) });
    assert.match(shown(statusView(huge, T0)), /^<{47}… +leader/m);
  });
});

describe('/lag view', () => {
  test('per replica: bytes, seconds, candidacy; a replica over maximum_lag_on_failover is not a candidate', () => {
    const s = snapshot({
      patroni: patroni([
        leader(),
        member('pg2', { lagBytes: 2048, lagSeconds: 0.25 }),
        member('pg3', {
          lagBytes: 12 * MB,
          lagSeconds: 35.4,
          failoverCandidate: false,
          notCandidateReason: `lag ${12 * MB} B > maximum_lag_on_failover ${MB} B`,
        }),
      ]),
    });
    const text = shown(lagView(s, T0 + 2000));
    assert.match(text, /📉 Replication lag — odoo-prod — 2026-11-25 12:00:00 UTC/);
    assert.match(text, /Leader pg1 · timeline 5 · 5s old/);
    assert.match(text, /Failover limit: 1\.0 MB \(maximum_lag_on_failover\)/);
    assert.match(text, /✅ pg2 · streaming · TL 5\n {3}lag 2\.0 kB · delay 0\.3 s\n {3}failover candidate/);
    assert.match(
      text,
      /❌ pg3 · streaming · TL 5\n {3}lag 12\.0 MB · delay 35 s\n {3}NOT a failover candidate: over the limit \(12\.0 MB > 1\.0 MB\)/,
    );
    assert.ok(!text.includes('pg1 · running'), 'the leader is not listed as a replica');
  });

  test('other reasons are shown as the source gave them; unknown values are "no data"', () => {
    const s = snapshot({
      patroni: patroni([
        leader(),
        member('pg2', {
          state: 'stopped',
          restReachable: false,
          lagBytes: null,
          pgLagBytes: null,
          lagSeconds: null,
          failoverCandidate: false,
          notCandidateReason: 'state stopped',
        }),
      ]),
    });
    const text = shown(lagView(s, T0));
    assert.match(
      text,
      /❌ pg2 · stopped · TL 5 · REST API unreachable\n {3}lag no data · delay no data\n {3}NOT a failover candidate: state stopped/,
    );
  });

  test('seconds need the postgres source: "not configured" / "unreachable" instead of a number', () => {
    const base = snapshot({ patroni: patroni([leader(), member('pg2', { lagSeconds: null, pgLagBytes: null })]) });
    const nc = shown(
      lagView(
        { ...base, sources: withSource(base.sources, 'postgres', { name: 'postgres', state: 'not configured' }) },
        T0,
      ),
    );
    assert.match(nc, /delay: postgres not configured/);
    assert.match(nc, /lag 0 B · delay not configured/);
    const un = shown(
      lagView(
        {
          ...base,
          sources: withSource(base.sources, 'postgres', {
            name: 'postgres',
            state: 'unreachable',
            detail: 'timeout: connect timeout',
            ageMs: 0,
          }),
        },
        T0,
      ),
    );
    assert.match(un, /delay: postgres unreachable — timeout: connect timeout/);
    assert.match(un, /lag 0 B · delay unreachable/);
  });

  test('no leader: replicas still listed; no Patroni data: "no data" with the reason', () => {
    const noLeader = shown(
      lagView(
        snapshot({
          patroni: patroni([
            member('pg2', { failoverCandidate: false, notCandidateReason: 'lag unknown', lagBytes: null }),
          ]),
        }),
        T0,
      ),
    );
    assert.match(noLeader, /Leader NONE · timeline 5/);
    assert.match(noLeader, /❌ pg2 · streaming/);
    const only = shown(lagView(snapshot({ patroni: patroni([leader()]) }), T0));
    assert.match(only, /No replicas reported\./);

    const base = snapshot();
    const s: StatusSnapshot = {
      ...base,
      sources: withSource(base.sources, 'patroni', {
        name: 'patroni',
        state: 'unreachable',
        detail: 'timeout: status timeout',
        ageMs: 5000,
      }),
    };
    delete s.patroni;
    assert.match(shown(lagView(s, T0)), /no data — patroni: unreachable — timeout: status timeout · 5s old/);
    const none: StatusSnapshot = {
      ...base,
      sources: withSource(base.sources, 'patroni', { name: 'patroni', state: 'not configured' }),
    };
    delete none.patroni;
    assert.match(shown(lagView(none, T0)), /no data — patroni: not configured$/);
  });
});

test('/alerts and /history with 5 000 alerts: one message, the rest counted, fast', async () => {
  const { alertsView, historyView } = await import('../../src/bot/views.js');
  const { firingAlert } = await import('./harness.js');
  const { parseTelegramHtml } = await import('../support/telegram-html.js');
  const alerts = Array.from({ length: 5000 }, (_, i) => firingAlert('r', { member: `pg${i}` }));
  const t0 = performance.now();
  const html = alertsView(alerts, Date.now(), 'c');
  const tr = alerts.map((a, i) => ({
    fingerprint: a.fingerprint,
    ruleId: 'r',
    labels: a.labels,
    from: 'pending' as const,
    to: 'firing' as const,
    at: i,
    message: a.message,
  }));
  const hist = historyView(tr, 50);
  const ms = performance.now() - t0;
  const r = parseTelegramHtml(html);
  assert.ok(r.ok && r.length <= 4096);
  assert.match(r.text, /…and \d+ more \(use the short ids/);
  assert.ok(parseTelegramHtml(hist).ok);
  assert.ok(ms < 2000, `rendered in ${Math.round(ms)} ms`);
});

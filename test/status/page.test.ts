import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import pino from 'pino';
import { configSchema } from '../../src/config/schema.js';
import { createMetrics } from '../../src/http/metrics.js';
import { startHealthServer } from '../../src/http/server.js';
import { statusRoutes } from '../../src/http/status-routes.js';
import { observed } from '../../src/sources/observation.js';
import type { PatroniClusterState, PatroniMember } from '../../src/sources/patroni/merge.js';
import { createSources } from '../../src/sources/sources.js';
import { CSP, renderStatusPage, STYLE } from '../../src/status/page.js';
import type { StatusPageData } from '../../src/status/page-data.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { firingAlert } from '../telegram/harness.js';
import { decodePng } from '../support/png.js';

const NOW = Date.UTC(2026, 11, 6, 3, 0);

function pageData(): StatusPageData {
  const m = (name: string, over: object = {}) => ({
    name,
    role: 'replica',
    state: 'streaming',
    timeline: 4,
    lagBytes: 2048,
    lagSeconds: 0.4,
    pgLagBytes: null,
    restReachable: true,
    inDcs: true,
    isLeader: false,
    failoverCandidate: true,
    pendingRestart: false,
    ...over,
  });
  const lagging = firingAlert(
    'patroni-replica-lag',
    { member: 'pg-node-3' },
    { message: 'replica pg-node-3 lags <3 MB>', ackedBy: '@ops (id 1)', firedAt: NOW - 120_000 },
  );
  return {
    at: NOW,
    refreshMs: 15_000,
    lagRangeMs: 3_600_000,
    status: {
      cluster: 'odoo-prod',
      at: NOW,
      alerts: { firing: 1, pending: 0 },
      sources: [
        { name: 'patroni', state: 'ok' },
        { name: 'haproxy', state: 'ok' },
      ],
      patroni: {
        ageMs: 0,
        leader: 'pg-node-1',
        leaderHealthy: true,
        timeline: 4,
        paused: false,
        maximumLagOnFailoverBytes: 1_048_576,
        failoverCandidates: ['pg-node-2'],
        members: [
          m('pg-node-1', {
            role: 'leader',
            state: 'running',
            isLeader: true,
            lagBytes: null,
            lagSeconds: null,
            failoverCandidate: false,
          }),
          m('pg-node-2'),
          m('pg-node-3', {
            lagBytes: 3_000_000,
            failoverCandidate: false,
            notCandidateReason: 'lag over maximum_lag_on_failover',
          }),
        ],
      },
      haproxy: {
        ageMs: 0,
        write: {
          name: 'pg_primary',
          status: 'UP',
          up: 1,
          total: 3,
          servers: [
            { name: 'pg1', status: 'UP' },
            { name: 'pg2', status: 'DOWN' },
            { name: 'pg3', status: 'DOWN' },
          ],
          upMember: 'pg-node-1',
          matchesLeader: true,
        },
        apps: [
          {
            name: 'odoo_workers',
            status: 'UP',
            up: 1,
            total: 2,
            servers: [
              { name: 'odoo1', status: 'DOWN' },
              { name: 'odoo2', status: 'UP' },
            ],
          },
        ],
      },
    },
    alerts: [{ alert: lagging, silencedBy: ['abcd1234'] }],
    silences: [
      {
        id: 'abcd1234',
        ruleId: 'patroni-replica-lag',
        matchers: { member: 'pg-node-3' },
        startsAt: NOW - 60_000,
        endsAt: NOW + 3_600_000,
        author: '@ops',
        reason: 'rebuild',
        createdAt: NOW - 60_000,
      },
    ],
    incidents: [
      {
        ruleId: 'haproxy-write-backend',
        from: NOW - 600_000,
        to: NOW - 540_000,
        message: 'no server UP in pg_primary',
      },
      { ruleId: 'patroni-replica-lag', from: NOW - 120_000, message: 'lag' },
    ],
  };
}

test('the page names the leader, has a row per member with role, timeline, lag and state, the backends, the alerts with ack and silence, the incidents', () => {
  const html = renderStatusPage(pageData());
  assert.match(html, /Leader <b id="leader">pg-node-1<\/b> · timeline 4/);
  for (const name of ['pg-node-1', 'pg-node-2', 'pg-node-3'])
    assert.match(html, new RegExp(`<tr class="member[^"]*" data-member="${name}"`));
  assert.match(
    html,
    /data-member="pg-node-1" data-role="leader"><td>pg-node-1<\/td><td class="ok">leader ★<\/td><td class="ok">running<\/td><td>4<\/td><td class="mut">—<\/td>/,
  );
  assert.match(
    html,
    /data-member="pg-node-3"[^\n]*<td class="bad">2\.9 MB · 0\.4 s<\/td>[^\n]*not a failover candidate: lag over maximum_lag_on_failover/,
  );
  assert.match(
    html,
    /data-backend="pg_primary"><td>pg_primary <span class="mut">write<\/span><\/td><td class="ok">1\/3 UP → pg-node-1<\/td>/,
  );
  assert.match(html, /data-backend="odoo_workers">.*<td class="warn">1\/2 UP<\/td>/);
  assert.match(
    html,
    /<li class="alert" data-rule="patroni-replica-lag" data-state="firing">.*firing 2m.*acked by @ops \(id 1\).*silenced \(<code>abcd1234<\/code>\)/,
  );
  assert.match(html, /replica pg-node-3 lags &lt;3 MB&gt;/, 'escaped');
  assert.match(html, /<b>haproxy-write-backend<\/b> 2026-12-06 02:50:00 UTC → 02:51:00 UTC \(1m\)/);
  assert.match(html, /<b>patroni-replica-lag<\/b> [^<]*<span class="bad">still firing<\/span>/);
  assert.match(html, /<meta http-equiv="refresh" content="15">/);
  assert.match(html, /<meta name="viewport" content="width=device-width,initial-scale=1">/);
  assert.match(html, /<img src="\/status\/lag\.png\?t=\d+"/);
  assert.ok(!/<script/i.test(html), 'no script at all');
});

test('no Patroni data: the page says why instead of inventing members; no alerts says so', () => {
  const d = pageData();
  delete d.status.patroni;
  d.status.sources = [{ name: 'patroni', state: 'unreachable', detail: 'no member answered' }];
  d.alerts = [];
  const html = renderStatusPage(d);
  assert.match(html, /No Patroni data: unreachable — no member answered/);
  assert.ok(!html.includes('data-member='));
  assert.match(html, /id="no-alerts">No firing or pending alerts/);
});

test('the CSP allows exactly the inline style by its hash, and nothing else', () => {
  const hash = createHash('sha256').update(STYLE).digest('base64');
  assert.match(CSP, new RegExp(`style-src 'sha256-${hash.replace(/[+/]/g, '\\$&')}'`));
  assert.match(CSP, /default-src 'none'/);
  assert.ok(!CSP.includes('unsafe'));
  assert.ok(
    renderStatusPage(pageData()).includes(`<style>${STYLE}</style>`),
    'the hashed text is exactly what the page carries',
  );
});

const patroniMember = (name: string, over: Partial<PatroniMember> = {}): PatroniMember => ({
  name,
  configured: true,
  inDcs: true,
  restReachable: true,
  role: 'replica',
  state: 'streaming',
  timeline: 7,
  lagBytes: 0,
  lagUnknown: false,
  pendingRestart: false,
  isLeader: false,
  failoverCandidate: true,
  tags: {},
  ...over,
});

test('over HTTP: basic auth, security headers, the live page and its lag chart PNG', async () => {
  const config = configSchema.parse({
    cluster: { name: 'odoo-prod' },
    http: { status_page: { username: 'ops', password: 's3cret' } },
  });
  const logger = pino({ level: 'silent' });
  const store = new SqliteStore(':memory:');
  const sources = createSources(config, logger);
  const state: PatroniClusterState = {
    at: NOW,
    scope: 'odoo',
    leader: 'pg1',
    leaderHealthy: true,
    timeline: 7,
    paused: false,
    history: [],
    maximumLagOnFailover: 1_048_576,
    views: [],
    viewsDisagree: false,
    otherPrimaries: [],
    reachableMembers: 2,
    members: [
      patroniMember('pg1', {
        role: 'leader',
        state: 'running',
        isLeader: true,
        lagBytes: null,
        failoverCandidate: false,
      }),
      patroniMember('pg2', { lagBytes: 4096 }),
    ],
  };
  sources.patroni = { members: [], poll: async () => observed('patroni', state, new Date(NOW)) };
  await store.addSamples(
    [0, 1, 2, 3].map((i) => ({ series: 'lag_bytes', key: 'pg2', at: NOW - 60_000 * (4 - i), value: 1000 * i })),
  );
  const srv = await startHealthServer({
    listen: '127.0.0.1',
    port: 0,
    metrics: createMetrics(),
    readiness: async () => [],
    routes: statusRoutes({ config: () => config, sources, store, now: () => NOW, logger }),
  });
  const base = `http://127.0.0.1:${srv.port}`;
  try {
    const anon = await fetch(`${base}/`);
    assert.equal(anon.status, 401);
    assert.match(anon.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    assert.equal((await fetch(`${base}/status/lag.png`)).status, 401, 'the chart is behind the same auth');
    assert.equal(
      (await fetch(`${base}/`, { headers: { authorization: `Basic ${Buffer.from('ops:wrong').toString('base64')}` } }))
        .status,
      401,
    );
    const auth = { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` };
    const page = await fetch(`${base}/`, { headers: auth });
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-security-policy'), CSP);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const html = await page.text();
    assert.match(html, /<b id="leader">pg1<\/b>/);
    assert.match(html, /data-member="pg2"/);
    const png = await fetch(`${base}/status/lag.png`, { headers: auth });
    assert.equal(png.headers.get('content-type'), 'image/png');
    const img = decodePng(Buffer.from(await png.arrayBuffer()));
    assert.deepEqual([img.width, img.height], [900, 420]);
    assert.equal((await fetch(`${base}/`, { method: 'POST', headers: auth })).status, 405, 'read-only');
    assert.equal((await fetch(`${base}/healthz`)).status, 200, '/healthz needs no auth');
  } finally {
    await srv.close();
    await store.close();
  }
});

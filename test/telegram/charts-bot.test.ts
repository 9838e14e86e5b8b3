import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { createTelegramBot } from '../../src/bot/build.js';
import type { TelegramBot } from '../../src/bot/bot.js';
import { TelegramNotifier } from '../../src/notify/telegram/notifier.js';
import type { Rule } from '../../src/rules/rule-type.js';
import { observed } from '../../src/sources/observation.js';
import type { PatroniClusterState, PatroniMember } from '../../src/sources/patroni/merge.js';
import { createSources } from '../../src/sources/sources.js';
import { PALETTE } from '../../src/charts/render.js';
import { SEVERITY_COLOUR, FAILOVER_COLOUR } from '../../src/charts/timeline.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { startFakeTelegram, type CallRecord, type FakeTelegram } from '../support/fake-telegram.js';
import { countColour, decodePng } from '../support/png.js';
import { captureLogger, TOKEN } from './harness.js';

const CHAT = -100555;
const USER = 2001;
const rule = (id: string, severity: Rule['severity']): Rule => ({
  id,
  type: 'http',
  name: id,
  severity,
  for: 0,
  keepFiringFor: 0,
  repeat: 0,
  timeout: 1000,
  labels: {},
  message: id,
  enabled: true,
  spec: {},
  origin: { file: 'r.yaml', line: 1, col: 1 },
});
const member = (name: string, over: Partial<PatroniMember> = {}): PatroniMember => ({
  name,
  configured: true,
  inDcs: true,
  restReachable: true,
  role: 'replica',
  state: 'streaming',
  timeline: 5,
  lagBytes: 0,
  lagUnknown: false,
  pendingRestart: false,
  isLeader: false,
  failoverCandidate: true,
  tags: {},
  ...over,
});

let fake: FakeTelegram;
let store: SqliteStore;
let bot: TelegramBot;

/** Sends a command; returns the photo call (if any) and the text reply to it. */
async function ask(text: string): Promise<{ photo?: CallRecord; text: string }> {
  const mark = fake.mark();
  const u = fake.pushCommand(CHAT, USER, text) as { message: { message_id: number } };
  // JSON bodies carry an object, multipart uploads (sendPhoto) a JSON string.
  const replyTo = (x: CallRecord) => {
    const rp = x.params['reply_parameters'];
    return (
      (typeof rp === 'string'
        ? (JSON.parse(rp) as { message_id?: number })
        : (rp as { message_id?: number } | undefined)
      )?.message_id === u.message.message_id
    );
  };
  const msg = await fake.waitForCall('sendMessage', replyTo, 5000, { after: mark });
  const photo = fake.calls.slice(mark).find((c) => c.method === 'sendPhoto' && replyTo(c));
  return { ...(photo ? { photo } : {}), text: (msg.response as { result: { text: string } }).result.text };
}

const pngOf = (c: CallRecord) => decodePng((c.params['photo'] as { bytes: Buffer }).bytes);

describe('/lag and /history send charts (fake Bot API, real telegraf)', () => {
  before(async () => {
    fake = await startFakeTelegram({ token: TOKEN, maxPollMs: 1000 });
    store = new SqliteStore(':memory:');
    const { logger } = captureLogger();
    const config = configSchema.parse({
      cluster: { name: 'odoo-prod' },
      notifiers: { telegram: { token: TOKEN, api_root: fake.apiRoot, chats: [{ id: CHAT }] } },
    });
    const sources = createSources(config, logger);
    const state: PatroniClusterState = {
      at: Date.now(),
      scope: 'odoo',
      leader: 'pg-node-2',
      leaderHealthy: true,
      timeline: 5,
      paused: false,
      history: [],
      maximumLagOnFailover: 1_048_576,
      views: [],
      viewsDisagree: false,
      otherPrimaries: [],
      reachableMembers: 3,
      members: [
        member('pg-node-1', { lagBytes: 2048 }),
        member('pg-node-2', {
          role: 'leader',
          state: 'running',
          isLeader: true,
          lagBytes: null,
          failoverCandidate: false,
        }),
        member('pg-node-3', { lagBytes: 4096 }),
      ],
    };
    sources.patroni = { members: [], poll: async () => observed('patroni', { ...state, at: Date.now() }) };
    const notifier = new TelegramNotifier({
      token: TOKEN,
      apiRoot: fake.apiRoot,
      chats: [{ id: CHAT, severities: ['critical', 'warning', 'info'] }],
      store,
      logger,
    });
    bot = createTelegramBot({
      config: () => config,
      store,
      sources,
      rules: () => [rule('patroni-replica-lag', 'critical'), rule('odoo-worker-health', 'warning')],
      notifiers: [notifier],
      logger,
      now: Date.now,
    })!;
    // 50 minutes of samples: pg-node-1 leads, then pg-node-2 after a failover 10 minutes ago.
    const now = Date.now();
    const samples = [];
    for (let t = now - 3_000_000; t <= now; t += 15_000) {
      const leader = t < now - 600_000 ? 'pg-node-1' : 'pg-node-2';
      samples.push({ series: 'leader', key: leader, at: t, value: 1 });
      for (const [i, r] of ['pg-node-1', 'pg-node-2', 'pg-node-3'].entries())
        if (r !== leader)
          samples.push({
            series: 'lag_bytes',
            key: r,
            at: t,
            value: 100_000 * (i + 1) + 50_000 * Math.sin(t / 200_000 + i),
          });
    }
    await store.addSamples(samples);
    const tr = (fp: string, ruleId: string, to: 'firing' | 'resolved', at: number) => ({
      fingerprint: fp,
      ruleId,
      labels: {},
      from: to === 'firing' ? ('pending' as const) : ('firing' as const),
      to,
      at,
      message: `${ruleId} ${to}`,
    });
    await store.commit({
      upserts: [],
      deletes: [],
      outbox: [],
      transitions: [
        tr('a', 'patroni-replica-lag', 'firing', now - 1_800_000),
        tr('a', 'patroni-replica-lag', 'resolved', now - 1_200_000),
        tr('b', 'odoo-worker-health', 'firing', now - 300_000),
      ],
    });
    await bot.start();
    await fake.waitForPolling(3000);
  });
  after(async () => {
    await bot.stop();
    await fake.close();
    await store.close();
  });

  test('/lag: a PNG of lag per replica (one colour each), then the current numbers as text', async () => {
    const r = await ask('/lag');
    assert.ok(r.photo, 'a photo was sent, in reply to the command');
    assert.equal(r.photo.status, 200);
    assert.match(String(r.photo.params['caption']), /Replication lag, last 1h \(3 replica\(s\)\)/);
    const png = pngOf(r.photo);
    assert.deepEqual([png.width, png.height], [900, 420]);
    for (const c of PALETTE.slice(0, 3)) assert.ok(countColour(png, c, 30) > 100, `replica colour ${c}`);
    assert.match(r.text, /Leader pg-node-2 · timeline 5/);
    assert.match(r.text, /pg-node-3 · streaming · TL 5\n {3}lag 4\.0 kB/);
  });

  test('/lag 6h takes a range; a bad range is explained and sends no chart', async () => {
    const r = await ask('/lag 6h');
    assert.match(String(r.photo?.params['caption']), /last 6h/);
    const bad = await ask('/lag forever');
    assert.equal(bad.photo, undefined);
    assert.match(bad.text, /"forever" is not a time range \(e\.g\. 30m, 6h, 2d\)\nUsage: \/lag \[range\]/);
    assert.match((await ask('/lag 30d')).text, /range must be between 5m and 7d/);
  });

  test('/history: a timeline PNG of incidents (severity colours) and the failover, then the transitions as text', async () => {
    const r = await ask('/history 1h');
    assert.ok(r.photo);
    assert.match(String(r.photo.params['caption']), /last 1h: 2 incident\(s\), 1 failover\(s\)/);
    const png = pngOf(r.photo);
    assert.ok(countColour(png, SEVERITY_COLOUR.critical, 20) > 300, 'critical incident bar');
    assert.ok(countColour(png, SEVERITY_COLOUR.warning, 20) > 100, 'warning incident bar');
    assert.ok(countColour(png, FAILOVER_COLOUR, 20) > 30, 'failover marker');
    assert.match(r.text, /Last 3 transition\(s\)/);
  });
});

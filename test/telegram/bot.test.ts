import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema, type Config } from '../../src/config/schema.js';
import { createTelegramBot } from '../../src/bot/build.js';
import type { TelegramBot } from '../../src/bot/bot.js';
import { COMMANDS } from '../../src/bot/commands/index.js';
import { OutboxWorker } from '../../src/notify/outbox-worker.js';
import { TelegramNotifier } from '../../src/notify/telegram/notifier.js';
import type { Rule } from '../../src/rules/rule-type.js';
import { normalizeStatus, type HaproxyStats } from '../../src/sources/haproxy/status.js';
import { failed, observed } from '../../src/sources/observation.js';
import type { PatroniClusterState, PatroniMember } from '../../src/sources/patroni/merge.js';
import { createSources, type Sources } from '../../src/sources/sources.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { startFakeTelegram, type FakeTelegram, type CallRecord } from '../support/fake-telegram.js';
import { captureLogger, firingAlert, notificationOf, TOKEN } from './harness.js';

const CHAT = -100777;
const OTHER_CHAT = -100999;
const ALICE = 1001; // allowed to mutate
const BOB = 1002; // in the chat, read-only

const rule = (id: string, severity: Rule['severity'] = 'critical'): Rule => ({
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

interface Ctx {
  fake: FakeTelegram;
  store: SqliteStore;
  bot: TelegramBot;
  notifier: TelegramNotifier;
  worker: OutboxWorker;
  logs: string[];
  config: Config;
  statusFails: boolean;
  sources: Sources;
}
let c: Ctx;

async function setup(): Promise<Ctx> {
  const fake = await startFakeTelegram({ token: TOKEN, maxPollMs: 1000 });
  const store = new SqliteStore(':memory:');
  const { logger, lines } = captureLogger();
  const config = configSchema.parse({
    cluster: { name: 'odoo-prod' },
    notifiers: { telegram: { token: TOKEN, api_root: fake.apiRoot, chats: [{ id: CHAT }], allowed_users: [ALICE] } },
  });
  const notifier = new TelegramNotifier({
    token: TOKEN,
    apiRoot: fake.apiRoot,
    chats: [{ id: CHAT, severities: ['critical', 'warning', 'info'] }],
    store,
    logger,
    pacing: { perChatIntervalMs: 0 },
  });
  const worker = new OutboxWorker({ store, notifiers: [notifier], logger, pollMs: 1_000_000_000 });
  const ctx = { fake, store, notifier, worker, logs: lines, config, statusFails: false } as Ctx;
  // The bot reads the cluster sources from this object at every /status: tests plug stubs in and out.
  const sources = createSources(config, logger);
  ctx.sources = sources;
  const bot = createTelegramBot({
    config: () => config,
    store,
    sources,
    rules: () => [rule('pg-down'), rule('replica-lag', 'warning')],
    notifiers: [notifier],
    logger,
    now: Date.now,
  })!;
  const realStatus = (bot as unknown as { o: { deps: { status: () => Promise<unknown> } } }).o.deps.status;
  (bot as unknown as { o: { deps: { status: () => Promise<unknown> } } }).o.deps.status = () =>
    ctx.statusFails ? Promise.reject(new Error(`boom ${TOKEN}`)) : realStatus();
  ctx.bot = bot;
  return ctx;
}

const MB = 1024 * 1024;

function patroniMember(name: string, over: Partial<PatroniMember> = {}): PatroniMember {
  return {
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
  };
}

/** What the Patroni source reports for a 3-node cluster with one replica lagging past maximum_lag_on_failover. */
function patroniState(at: number): PatroniClusterState {
  const members = [
    patroniMember('pg1', {
      role: 'leader',
      state: 'running',
      lagBytes: null,
      isLeader: true,
      failoverCandidate: false,
    }),
    patroniMember('pg2', { lagBytes: 4096 }),
    patroniMember('pg3<&>', {
      lagBytes: 12 * MB,
      failoverCandidate: false,
      notCandidateReason: `lag ${12 * MB} B > maximum_lag_on_failover ${MB} B`,
    }),
  ];
  return {
    at,
    scope: 'odoo',
    leader: 'pg1',
    leaderHealthy: true,
    timeline: 7,
    members,
    paused: false,
    history: [],
    maximumLagOnFailover: MB,
    views: [],
    viewsDisagree: false,
    otherPrimaries: [],
    reachableMembers: 3,
    patroniVersion: '4.0.4',
  };
}

function haproxyStats(up: Record<string, string>): HaproxyStats {
  const servers = Object.entries(up).map(([name, st]) => ({
    backend: 'pg_write',
    name,
    status: normalizeStatus(st),
    sessions: 0,
    queue: 0,
  }));
  return { backends: [{ name: 'pg_write', status: 'UP', sessions: 0, queue: 0, servers }] };
}

/** Sends a command as `user` and returns the bot's reply to it (text as the user sees it). */
async function ask(text: string, user = ALICE, chat = CHAT): Promise<string> {
  const mark = c.fake.mark();
  const u = c.fake.pushCommand(chat, user, text) as { message: { message_id: number } };
  const call = await c.fake.waitForCall(
    'sendMessage',
    (x) =>
      (x.params['reply_parameters'] as { message_id?: number } | undefined)?.message_id === u.message.message_id ||
      x.params['reply_to_message_id'] === u.message.message_id,
    3000,
    { after: mark },
  );
  assert.equal(call.status, 200, JSON.stringify(call.response));
  return (call.response as { result: { text: string } }).result.text;
}

async function sendFiring(labels: Record<string, string>) {
  const a = firingAlert('pg-down', labels);
  await c.store.commit({
    upserts: [a],
    deletes: [],
    transitions: [
      {
        fingerprint: a.fingerprint,
        ruleId: a.ruleId,
        labels: a.labels,
        from: 'pending',
        to: 'firing',
        at: Date.now(),
        message: a.message,
      },
    ],
    outbox: [{ receiver: `telegram:${CHAT}`, notification: notificationOf('firing', [a], Date.now()) }],
  });
  const mark = c.fake.mark();
  await c.worker.pass();
  const call = await c.fake.waitForCall('sendMessage', (x) => x.status === 200, 3000, { after: mark });
  return { alert: a, messageId: (call.response as { result: { message_id: number } }).result.message_id };
}

async function press(
  user: number,
  data: string,
  messageId: number,
  chat = CHAT,
): Promise<{ answer: CallRecord; mark: number }> {
  const mark = c.fake.mark();
  const u = c.fake.pushCallback(chat, user, data, messageId);
  const answer = await c.fake.waitForCall(
    'answerCallbackQuery',
    (x) => x.params['callback_query_id'] === u.callback_query.id,
    3000,
    { after: mark },
  );
  return { answer, mark };
}

describe('telegram bot over real HTTP (telegraf ↔ fake Bot API)', () => {
  before(async () => {
    c = await setup();
    await c.bot.start();
    await c.fake.waitForPolling(3000);
  });
  after(async () => {
    await c.bot.stop();
    for (const l of c.logs) assert.ok(!l.includes(TOKEN.split(':')[1]!), `token in log: ${l}`);
    await c.fake.close();
    await c.store.close();
  });

  test('commands are registered with setMyCommands', () => {
    assert.deepEqual(
      (c.fake.commands() as { command: string }[]).map((x) => x.command),
      COMMANDS.map((x) => x.name),
    );
    assert.deepEqual(
      (c.fake.commands() as { command: string }[]).map((x) => x.command),
      ['status', 'lag', 'alerts', 'history', 'silence', 'silences', 'unsilence', 'ack', 'rules', 'drill', 'help'],
    );
  });

  test('/help and /start list every command', async () => {
    const help = await ask('/help');
    for (const cmd of COMMANDS) assert.ok(help.includes(`/${cmd.name}`), cmd.name);
    assert.match(await ask('/start'), /\/silence <alert-id\|rule-id> <duration> \[reason\]/);
  });

  test('/status without cluster sources: "not configured" / "no data", never invented; the alert count', async () => {
    const text = await ask('/status');
    assert.match(text, /Cluster odoo-prod/);
    assert.match(text, /Alerts: \d+ firing, \d+ pending/);
    assert.match(text, /Patroni: not configured\nLeader and members: no data/);
    assert.match(text, /HAProxy: not configured/);
    assert.match(text, /patroni: not configured/);
    assert.match(text, /elasticsearch: not configured/);
    assert.ok(!/Leader pg|MEMBER|Writes/.test(text));
  });

  test('/lag says "no data" until the Patroni source reports', async () => {
    assert.match(await ask('/lag'), /no data — patroni: not configured/);
  });

  test('/status and /lag show what the Patroni and HAProxy sources report', async () => {
    let writeUp: Record<string, string> = { pg1: 'UP', pg2: 'DOWN', 'pg3<&>': 'DOWN' };
    c.sources.patroni = {
      members: [],
      poll: async () => observed('patroni', patroniState(Date.now() - 2000), new Date(Date.now() - 2000)),
    };
    c.sources.haproxy = { writeBackend: 'pg_write', poll: async () => observed('haproxy', haproxyStats(writeUp)) };
    try {
      const text = await ask('/status');
      assert.match(text, /Patroni 4\.0\.4 · \ds old/);
      assert.match(text, /👑 Leader pg1 · timeline 7/);
      assert.match(
        text,
        /MEMBER +ROLE +STATE +TL LAG\npg1 +leader +running +7 -\npg2 +replica +streaming +7 4\.0 kB\npg3<&> +replica +streaming +7 12\.0 MB/,
      );
      assert.match(text, /Failover candidates: pg2$/m);
      assert.match(text, /✅ Writes pg_write: 1 UP · 2 DOWN → pg1$/m);
      assert.match(text, /🟢 patroni: ok · \ds old/);
      assert.match(text, /▫️ postgres: not configured/);

      const lag = await ask('/lag');
      assert.match(lag, /Leader pg1 · timeline 7 · \ds old/);
      assert.match(lag, /Failover limit: 1\.0 MB \(maximum_lag_on_failover\)/);
      assert.match(lag, /✅ pg2 · streaming · TL 7\n {3}lag 4\.0 kB · delay not configured\n {3}failover candidate/);
      assert.match(
        lag,
        /❌ pg3<&> · streaming · TL 7\n {3}lag 12\.0 MB · delay not configured\n {3}NOT a failover candidate: over the limit \(12\.0 MB > 1\.0 MB\)/,
      );

      writeUp = { pg1: 'DOWN', pg2: 'DOWN', 'pg3<&>': 'MAINT' };
      await new Promise((r) => setTimeout(r, 10));
      assert.match(await ask('/status'), /🚨 Writes pg_write: 0 UP · 2 DOWN · 1 MAINT — no server takes writes/);

      c.sources.patroni = {
        members: [],
        poll: async () =>
          failed('patroni', { kind: 'unreachable', message: 'no Patroni member answered (pg1: ECONNREFUSED <x>)' }),
      };
      const down = await ask('/status');
      assert.match(down, /🔴 Patroni: unreachable — unreachable: no Patroni member answered \(pg1: ECONNREFUSED <x>\)/);
      assert.match(down, /Leader and members: no data/);
      assert.match(await ask('/lag'), /no data — patroni: unreachable — unreachable: no Patroni member answered/);
    } finally {
      delete c.sources.patroni;
      delete c.sources.haproxy;
    }
  });

  test('/alerts, /ack, /history, /rules', async () => {
    const { alert } = await sendFiring({ member: 'pg<1>' });
    const list = await ask('/alerts');
    assert.match(list, new RegExp(`${alert.shortId} pg-down · firing`));
    assert.ok(list.includes('member=pg<1>'));
    assert.match(await ask(`/ack ${alert.shortId}`), /acknowledged by @?User1001|acknowledged by/);
    assert.equal((await c.store.findAlert(alert.shortId))!.ackedBy, 'User1001 (id 1001)');
    assert.match(await ask('/alerts'), /acked by User1001/);
    assert.match(await ask('/history'), /pg-down pending→firing/);
    assert.match(await ask('/history 0'), /n must be between 1 and 50\nUsage: \/history \[n\|range\]/);
    assert.match(await ask('/history lots'), /"lots" is not a number/);
    const rules = await ask('/rules');
    assert.match(rules, /pg-down http — 🔥 1 firing/);
    assert.match(rules, /replica-lag http — not evaluated yet/);
    assert.match(await ask('/ack'), /^Usage: \/ack <alert-id>/);
    assert.match(await ask('/ack ;rm -rf /'), /Not an alert id: ;rm/);
    assert.match(await ask('/ack ffffff'), /No alert ffffff/);
  });

  test('/silence, /silences, /unsilence: validated arguments, usage lines', async () => {
    assert.match(await ask('/silence'), /^Usage: \/silence <alert-id\|rule-id> <duration> \[reason\]/);
    assert.match(await ask('/silence pg-down soon'), /"soon" is not a duration/);
    assert.match(await ask('/silence pg-down 10s'), /duration must be between 1m and 30d/);
    assert.match(await ask('/silence pg-down 90d'), /duration must be between 1m and 30d/);
    assert.match(await ask('/silence no-such-rule 1h'), /No alert or rule with id no-such-rule/);
    const reply = await ask('/silence pg-down 2h planned <maintenance> & reboot');
    assert.match(reply, /Silenced every alert of rule pg-down for 2h/);
    const id = /Silence id (\S+)/.exec(reply)![1]!;
    const [s] = await c.store.listSilences();
    assert.equal(s!.ruleId, 'pg-down');
    assert.equal(s!.reason, 'planned <maintenance> & reboot');
    assert.match(await ask('/silences'), new RegExp(`${id} rule pg-down[\\s\\S]*planned <maintenance> & reboot`));
    assert.match(await ask(`/unsilence ${id}`), /lifted/);
    assert.match(await ask(`/unsilence ${id}`), /No active silence/);
    assert.equal(await ask('/silences'), 'No active silences.');
  });

  test('mutating commands are limited to allowed_users; reads are not', async () => {
    assert.equal(await ask('/silence pg-down 1h', BOB), 'Not authorized to change alerts.');
    assert.equal(await ask('/ack abcdef', BOB), 'Not authorized to change alerts.');
    assert.match(await ask('/status', BOB), /Cluster odoo-prod/);
    assert.equal((await c.store.listSilences()).length, 0);
    assert.ok(c.logs.some((l) => l.includes('"user":1002') && l.includes('not allowed to change alerts')));
  });

  test('a chat that is not configured gets one short refusal, no data, and is logged', async () => {
    assert.equal(await ask('/status', 4242, OTHER_CHAT), 'Not authorized.');
    const mark = c.fake.mark();
    const u = c.fake.pushCommand(OTHER_CHAT, 4242, '/alerts');
    // The event, not a fixed sleep: telegraf polls with a higher offset only after its handler for the update finished.
    const deadline = Date.now() + 5000;
    while ((c.fake.heldPoll()?.offset ?? 0) <= u.update_id && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    assert.ok((c.fake.heldPoll()?.offset ?? 0) > u.update_id, 'the bot handled the update');
    assert.equal(c.fake.calls.slice(mark).filter((x) => x.method === 'sendMessage').length, 0, 'no second refusal');
    assert.ok(
      c.logs.some((l) => l.includes(`"chat":${OTHER_CHAT}`) && l.includes('"user":4242') && l.includes('not allowed')),
    );
  });

  test('a failing command answers with an error and the bot keeps working', async () => {
    c.statusFails = true;
    const text = await ask('/status');
    assert.match(text, /\/status failed: boom <token>/);
    c.statusFails = false;
    assert.match(await ask('/status'), /Cluster odoo-prod/);
  });

  test('buttons: Ack and Silence from an authorized user edit the message to show who and when', async () => {
    const { alert, messageId } = await sendFiring({ member: 'pg2' });
    const { answer, mark } = await press(ALICE, `ack:${alert.shortId}`, messageId);
    assert.match(String(answer.params['text']), /Acknowledging/);
    const edit = await c.fake.waitForCall('editMessageText', () => true, 3000, { after: mark });
    assert.equal(edit.status, 200);
    const msg = c.fake.messages(CHAT).find((m) => m.messageId === messageId)!;
    assert.match(msg.text, /✔ Acked by User1001 \(id 1001\) at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    assert.ok(msg.replyMarkup, 'the buttons stay');
    assert.equal((await c.store.findAlert(alert.shortId))!.ackedBy, 'User1001 (id 1001)');

    const s = await press(ALICE, `sil:${alert.shortId}:24h`, messageId);
    assert.match(String(s.answer.params['text']), /Silencing .* for 24h/);
    await c.fake.waitForCall('editMessageText', () => true, 3000, { after: s.mark });
    const silences = await c.store.listSilences();
    const mine = silences.find((x) => x.matchers['member'] === 'pg2')!;
    assert.equal(mine.ruleId, 'pg-down');
    assert.ok(Math.abs(mine.endsAt - mine.startsAt - 86_400_000) < 1000);
    assert.match(c.fake.messages(CHAT).find((m) => m.messageId === messageId)!.text, /🔕 Silenced 24h by User1001/);
  });

  test('buttons: unauthorized user, unauthorized chat, unknown id, garbage — polite answers, no change', async () => {
    const { alert, messageId } = await sendFiring({ member: 'pg3' });
    const before = c.fake.callsOf('editMessageText').length;
    assert.equal(
      (await press(BOB, `ack:${alert.shortId}`, messageId)).answer.params['text'],
      'Not authorized to change alerts.',
    );
    assert.equal((await c.store.findAlert(alert.shortId))!.ackedBy, undefined);
    assert.equal((await press(ALICE, `ack:${alert.shortId}`, 1, OTHER_CHAT)).answer.params['text'], 'Not authorized.');
    assert.equal(
      (await press(ALICE, 'ack:ffffff', messageId)).answer.params['text'],
      'This alert is no longer known (it expired or was purged).',
    );
    assert.equal((await press(ALICE, 'drop table', messageId)).answer.params['text'], 'Unknown button.');
    assert.equal((await press(ALICE, `sil:${alert.shortId}:99y`, messageId)).answer.params['text'], 'Unknown button.');
    assert.equal(c.fake.callsOf('editMessageText').length, before);
  });
});

describe('409 Conflict: a second bot polls the same token', () => {
  test('detected, logged, shown in readiness; alerts keep flowing; polling recovers', async () => {
    const fake = await startFakeTelegram({ token: TOKEN, maxPollMs: 500 });
    const store = new SqliteStore(':memory:');
    const { logger, lines } = captureLogger();
    const config = configSchema.parse({
      notifiers: { telegram: { token: TOKEN, api_root: fake.apiRoot, chats: [{ id: CHAT }] } },
    });
    const notifier = new TelegramNotifier({
      token: TOKEN,
      apiRoot: fake.apiRoot,
      chats: [{ id: CHAT, severities: ['critical', 'warning', 'info'] }],
      store,
      logger,
    });
    const worker = new OutboxWorker({ store, notifiers: [notifier], logger, pollMs: 1_000_000_000 });
    // Two: the look at the waiting updates at start, then the first poll, both meet the other instance.
    fake.fail('getUpdates', { status: 409 }, 2);
    const bot = createTelegramBot({
      config: () => config,
      store,
      sources: createSources(config, logger),
      rules: () => [],
      notifiers: [notifier],
      logger,
      now: Date.now,
    })!;
    (bot as unknown as { o: { retryMs: number } }).o.retryMs = 400;
    try {
      await bot.start();
      const deadline = Date.now() + 3000;
      while (bot.health().ok && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(bot.health().ok, false);
      assert.match(notifier.health().detail!, /409 Conflict/);
      assert.ok(lines.some((l) => l.includes('"level":50') && l.includes('409 Conflict')));
      // Alerts still go out while the bot cannot poll.
      const a = firingAlert('pg-down', { member: 'pg1' });
      await store.commit({
        upserts: [a],
        deletes: [],
        transitions: [],
        outbox: [{ receiver: `telegram:${CHAT}`, notification: notificationOf('firing', [a], Date.now()) }],
      });
      await worker.pass();
      assert.equal(fake.messages(CHAT).length, 1);
      // The other instance went away: polling resumes and readiness clears.
      await fake.waitForPolling(3000);
      const until = Date.now() + 3000;
      while (!notifier.health().ok && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.equal(notifier.health().ok, true, notifier.health().detail);
    } finally {
      await bot.stop();
      await fake.close();
      await store.close();
    }
  });
});

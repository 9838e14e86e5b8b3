/**
 * One failover on the real lab, told through the real Telegram path: the shipped packs evaluated
 * about once a second (ClusterHarness), the engine's outbox delivered by the real outbox worker and
 * Telegram notifier over HTTP to the loopback Bot API. Returns the chat as the user sees it (every
 * sendMessage and editMessageText, in order) and the latencies. Used by
 * test/integration/failover-story.test.ts and `npm run story` (docs/failover-story.md).
 */
import { silentLogger } from '../../src/log.js';
import { OutboxWorker } from '../../src/notify/outbox-worker.js';
import { TelegramNotifier } from '../../src/notify/telegram/notifier.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { startFakeTelegram, type CallRecord, type FakeTelegram } from '../support/fake-telegram.js';
import type { Lab, MemberName } from '../support/lab.js';
import { parseTelegramHtml } from '../support/telegram-html.js';
import { ClusterHarness } from './cluster-harness.js';

export const STORY_CHAT = -1001234567890;

export interface ChatEvent {
  /** ms since the kill */
  t: number;
  kind: 'message' | 'reply' | 'edit';
  messageId: number;
  replyTo?: number;
  /** Text as the user sees it. */
  text: string;
  silent: boolean;
}

export interface FailoverStory {
  killed: MemberName;
  newLeader: MemberName;
  killedAt: number;
  events: ChatEvent[];
  /** kill → first page on the Bot API */
  pageMs: number;
  /** kill → the "failover completed" reply */
  failoverReplyMs: number;
  /** new leader seen by `scripts/lab leader` polling → the failover reply */
  leaderToReplyMs: number;
  /** restart of the old primary → the resolve */
  restartToResolveMs: number;
}

const plain = (html: unknown): string => {
  const r = parseTelegramHtml(String(html ?? ''));
  return r.ok ? r.text : String(html ?? '');
};

async function waitCall(
  fake: FakeTelegram,
  pred: (c: CallRecord) => boolean,
  timeoutMs: number,
  what: string,
): Promise<CallRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = fake
      .callsOf('sendMessage')
      .concat(fake.callsOf('editMessageText'))
      .filter((c) => c.status === 200)
      .sort((a, b) => a.at - b.at)
      .find(pred);
    if (hit) return hit;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; calls so far:\n${describeCalls(fake)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function describeCalls(fake: FakeTelegram): string {
  return (
    [...fake.callsOf('sendMessage'), ...fake.callsOf('editMessageText')]
      .sort((a, b) => a.at - b.at)
      .map((c) => `${new Date(c.at).toISOString()} ${c.method}: ${plain(c.params['text']).split('\n')[0]}`)
      .join('\n') || '(none)'
  );
}

const isFailover = (c: CallRecord) => /PostgreSQL primary down \/ failover/.test(plain(c.params['text']));

/** Kill the primary, wait for the failover, leave it degraded for `degradedMs`, restart it, wait for the resolve. */
export async function runFailoverStory(
  lab: Lab,
  opts: { degradedMs?: number; log?: (s: string) => void } = {},
): Promise<FailoverStory> {
  const log = opts.log ?? (() => undefined);
  const fake = await startFakeTelegram({ token: '123456:story-token' });
  let worker: OutboxWorker | undefined;
  const store = new SqliteStore(':memory:');
  const notifier = new TelegramNotifier({
    token: fake.token,
    apiRoot: fake.apiRoot,
    chats: [{ id: STORY_CHAT, severities: ['critical', 'warning', 'info'] }],
    store,
    logger: silentLogger,
  });
  const h = new ClusterHarness(lab.info, { notifiers: [notifier], onCommitted: () => worker?.kick(), store });
  worker = new OutboxWorker({ store: h.store, notifiers: [notifier], logger: silentLogger, pollMs: 250 });
  try {
    await lab.waitReady(120);
    h.start();
    worker.start();
    await h.waitTicks(5, 60_000);
    const before = fake.mark();
    log('killing the primary');
    const killedAt = Date.now();
    const killed = await lab.killPrimary();
    const page = await waitCall(
      fake,
      (c) => c.at >= killedAt && c.method === 'sendMessage' && isFailover(c),
      60_000,
      'the first page',
    );
    log(`first page after ${page.at - killedAt} ms`);
    let leaderAt = 0;
    let newLeader: MemberName = killed;
    const leaderWatch = (async () => {
      while (leaderAt === 0) {
        const l = await lab.leader().catch(() => killed);
        if (l !== killed) {
          leaderAt = Date.now();
          newLeader = l;
        } else await new Promise((r) => setTimeout(r, 150));
      }
    })();
    const reply = await waitCall(
      fake,
      (c) => c.at >= killedAt && c.method === 'sendMessage' && /failover completed/.test(plain(c.params['text'])),
      120_000,
      'the failover reply',
    );
    await Promise.race([leaderWatch, new Promise((r) => setTimeout(r, 10_000))]);
    log(`failover reply after ${reply.at - killedAt} ms`);
    await new Promise((r) => setTimeout(r, opts.degradedMs ?? 30_000));
    const restartAt = Date.now();
    await lab.restartNode(killed);
    const resolve = await waitCall(
      fake,
      (c) =>
        c.at >= restartAt && c.method === 'sendMessage' && /RESOLVED/.test(plain(c.params['text'])) && isFailover(c),
      180_000,
      'the resolve',
    );
    log(`resolve ${resolve.at - restartAt} ms after the restart`);
    await lab.waitReady(120);
    await h.waitTicks(3, 30_000);
    await worker.pass();
    const calls = [...fake.callsOf('sendMessage'), ...fake.callsOf('editMessageText')]
      .filter((c) => c.status === 200 && fake.calls.indexOf(c) >= before)
      .sort((a, b) => a.at - b.at);
    const events: ChatEvent[] = calls.map((c) => {
      const res = (c.response as { result?: { message_id?: number } }).result;
      const replyTo = (c.params['reply_parameters'] as { message_id?: number } | undefined)?.message_id;
      return {
        t: c.at - killedAt,
        kind: c.method === 'editMessageText' ? 'edit' : replyTo !== undefined ? 'reply' : 'message',
        messageId: Number(c.params['message_id'] ?? res?.message_id),
        ...(replyTo !== undefined ? { replyTo } : {}),
        text: plain(c.params['text']),
        silent: c.params['disable_notification'] === true,
      };
    });
    return {
      killed,
      newLeader,
      killedAt,
      events,
      pageMs: page.at - killedAt,
      failoverReplyMs: reply.at - killedAt,
      leaderToReplyMs: leaderAt ? reply.at - leaderAt : NaN,
      restartToResolveMs: resolve.at - restartAt,
    };
  } finally {
    await worker.stop(2000);
    await h.stop();
    await fake.close();
  }
}

/** The transcript as Markdown: what the on-call engineer's phone shows, in order. */
export function storyMarkdown(s: FailoverStory, meta: { command: string; date: string }): string {
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const head = [
    '# One failover, as the chat tells it',
    '',
    `Generated by \`${meta.command}\` on ${meta.date} against the local lab (\`scripts/lab\`): the shipped rule packs, real`,
    'sources, engine, SQLite store, outbox worker and Telegram notifier, talking over HTTP to the loopback Bot API',
    `(test/support/fake-telegram.ts). \`scripts/lab kill-primary\` SIGKILLed ${s.killed}; Patroni promoted ${s.newLeader};`,
    `${s.killed} was restarted after a while and rejoined. Do not edit by hand: run the command again.`,
    '',
    '| measured | value |',
    '|---|---|',
    `| kill → first page | ${secs(s.pageMs)} |`,
    `| kill → "failover completed" reply | ${secs(s.failoverReplyMs)} |`,
    `| new leader visible (\`scripts/lab leader\`, polled) → reply | ${Number.isNaN(s.leaderToReplyMs) ? 'n/a' : secs(s.leaderToReplyMs)} |`,
    `| restart of ${s.killed} → resolve | ${secs(s.restartToResolveMs)} |`,
    '',
    'Each entry: time after the kill, what happened in the chat. New messages and replies notify (unless',
    'silent); edits change the first message in place without a sound.',
    '',
  ];
  const body = s.events.flatMap((e) => {
    const what =
      e.kind === 'edit'
        ? `✏️ first message #${e.messageId} edited`
        : e.kind === 'reply'
          ? `↩️ reply #${e.messageId} to #${e.replyTo}`
          : `🆕 new message #${e.messageId}`;
    return [`### +${secs(e.t)} · ${what}${e.silent ? ' (silent)' : ''}`, '', '```', e.text, '```', ''];
  });
  return [...head, ...body].join('\n');
}

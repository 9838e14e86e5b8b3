import { Telegram } from 'telegraf';
import type { Alert } from '../../alerts/alert.js';
import type { Notification } from '../../alerts/notification.js';
import type { Severity } from '../../config/zod-types.js';
import type { Logger } from '../../log.js';
import type { OutboxItem, StateStore } from '../../store/store.js';
import type { DeliveryResult, Notifier } from '../notifier.js';
import { classifyError, redact, type ApiFailure } from './errors.js';
import {
  alertKeyboard,
  partText,
  renderDigest,
  renderNotificationParts,
  renderResolvedEdit,
  renderThreadHead,
  renderUpdateReply,
  resplitPart,
  type InlineButton,
} from './format.js';
import { htmlToPlain, TELEGRAM_MAX_CHARS, truncateText } from './html.js';
import { DEFAULT_PACING, Pacer, type PacingLimits } from './pacer.js';

/** One configured chat: who gets what. */
export interface TelegramRoute {
  id: number | string;
  name?: string;
  severities: readonly Severity[];
  matchers?: Record<string, string>;
  thread_id?: number;
}

/** What is stored per delivered firing notification (outbox meta + deliveries), to thread the resolve. */
export interface TelegramDelivery {
  chatId: string;
  threadId?: number;
  /** First message of the notification: the one a resolve replies to and edits. */
  messageId: number;
  messageIds: number[];
  /** Alerts shown in that message (fingerprints); empty for digests. */
  alerts: string[];
  digest?: boolean;
}

export interface TelegramNotifierOptions {
  token: string;
  apiRoot: string;
  chats: readonly TelegramRoute[];
  store: Pick<StateStore, 'deliveryOf' | 'findAlert' | 'threadOf'>;
  logger: Logger;
  now?: () => number;
  pacing?: Partial<PacingLimits>;
  /** More due items than this for one chat at a send slot are sent as one digest. */
  coalesceAfter?: number;
  maxSampleLines?: number;
  maxSampleChars?: number;
  /** A telegraf client to share (the bot's); default: a new one on `apiRoot`. */
  telegram?: Telegram;
}

export const receiverOf = (r: Pick<TelegramRoute, 'id' | 'thread_id'>): string =>
  `telegram:${r.id}${r.thread_id !== undefined ? `:${r.thread_id}` : ''}`;

export function parseReceiver(receiver: string): { chatId: string; threadId?: number } {
  const m = /^telegram:(-?\d+|@\w+)(?::(\d+))?$/.exec(receiver);
  if (!m) throw new Error(`not a telegram receiver: ${receiver}`);
  return { chatId: m[1]!, ...(m[2] !== undefined ? { threadId: Number(m[2]) } : {}) };
}

const matches = (route: TelegramRoute, labels: Record<string, string>) =>
  Object.entries(route.matchers ?? {}).every(([k, v]) => (labels[k] ?? '') === v);

/** The part of a notification a chat is meant to see (its label matchers), or undefined for none of it. */
export function forRoute(route: TelegramRoute, n: Notification): Notification | undefined {
  if (!route.severities.includes(n.rule.severity)) return undefined;
  const alerts = n.alerts.filter((a) => matches(route, { ...n.commonLabels, ...a.labels }));
  return alerts.length === 0 ? undefined : alerts.length === n.alerts.length ? n : { ...n, alerts };
}

/** telegraf types the signal as the abort-controller polyfill's; node-fetch accepts the native one. */
const apiSignal = (signal: AbortSignal) => ({
  signal: signal as unknown as NonNullable<Parameters<Telegram['callApi']>[2]>['signal'],
});

interface Rejection {
  code: number;
  message: string;
  at: number;
  count: number;
}
/** A multi-part message being sent: parts without their "(i/n)" suffix, message ids of those sent. */
interface Progress {
  parts: string[];
  sent: number[];
  keyboard?: InlineButton[][];
}

/** How many times one send is re-split after "message is too long" before it counts as rejected. */
const MAX_RESPLITS = 3;

/**
 * Telegram delivery: routing to chats, paced sends (one message per deliver call per chat),
 * coalescing a backlog into a digest, threading resolves to their firing message, and turning
 * Bot API errors into retry decisions (429 → exactly retry_after; 5xx/network → backoff; 4xx → give up).
 */
export class TelegramNotifier implements Notifier {
  readonly name = 'telegram';
  readonly telegram: Telegram;
  private readonly pacer: Pacer;
  private readonly now: () => number;
  private readonly routes = new Map<string, TelegramRoute>();
  private readonly rejected = new Map<string, Rejection>();
  /** Multi-part messages in flight, by outbox id: a retry continues instead of re-sending part 1. */
  private readonly progress = new Map<number, Progress>();
  private botProblem: string | undefined;

  private o: TelegramNotifierOptions;

  constructor(o: TelegramNotifierOptions) {
    this.o = o;
    this.telegram = o.telegram ?? new Telegram(o.token, { apiRoot: o.apiRoot, webhookReply: false });
    this.pacer = new Pacer({ ...DEFAULT_PACING, ...o.pacing });
    this.now = o.now ?? Date.now;
    this.setChats(o.chats);
  }

  /**
   * A reload's chats and formatting limits, for every notification routed from now on. Items
   * already in the outbox for a chat that was removed are still sent there (they were promised).
   */
  reconfigure(o: Pick<TelegramNotifierOptions, 'chats' | 'maxSampleLines' | 'maxSampleChars' | 'coalesceAfter'>): void {
    this.o = { ...this.o, ...o };
    this.setChats(o.chats);
  }

  private setChats(chats: readonly TelegramRoute[]): void {
    this.routes.clear();
    for (const r of chats) this.routes.set(receiverOf(r), r);
  }

  receivers(n: Notification): string[] {
    return [...this.routes].filter(([, r]) => forRoute(r, n) !== undefined).map(([id]) => id);
  }

  readyAt(receiver: string, now: number): number {
    return this.pacer.readyAt(parseReceiver(receiver).chatId, now);
  }

  /** Set by the bot: a second instance polling the token (409), or undefined when polling is fine again. */
  setBotProblem(problem: string | undefined): void {
    this.botProblem = problem;
  }

  health(): { ok: boolean; detail?: string } {
    const problems: string[] = [];
    if (this.botProblem) problems.push(this.botProblem);
    for (const [chat, r] of this.rejected)
      problems.push(`chat ${chat} rejected ${r.count} message(s), last ${new Date(r.at).toISOString()}: ${r.message}`);
    return problems.length
      ? { ok: false, detail: problems.join('; ') }
      : { ok: true, detail: `${this.routes.size} chat(s), sends ok` };
  }

  async deliver(receiver: string, items: OutboxItem[], signal: AbortSignal): Promise<Map<number, DeliveryResult>> {
    const results = new Map<number, DeliveryResult>();
    const { chatId, threadId } = parseReceiver(receiver);
    const route = this.routes.get(receiver) ?? {
      id: chatId,
      severities: ['critical', 'warning', 'info'],
      ...(threadId !== undefined ? { thread_id: threadId } : {}),
    };
    const now = this.now();
    if (!this.pacer.take(chatId, now)) return results; // not our turn: everything stays pending

    const continuing = items.find((i) => this.progress.has(i.id));
    const coalesceAfter = this.o.coalesceAfter ?? 3;
    if (!continuing && items.length > coalesceAfter) {
      const shown = items.map((i) => forRoute(route, i.notification) ?? i.notification);
      const silent = shown.every((n) => n.rule.severity === 'info');
      let r = await this.send(chatId, threadId, { text: renderDigest(shown, { now }), silent }, signal);
      // Telegram counted more than we did: the digest drops more lines (and counts them) until it fits.
      for (let max = TELEGRAM_MAX_CHARS, k = 0; !r.ok && r.failure.tooLong && k < MAX_RESPLITS; k++) {
        max = Math.floor(max * 0.6);
        this.o.logger.warn({ receiver, max }, 'telegram: digest refused as too long; sending a shorter one');
        r = await this.send(chatId, threadId, { text: renderDigest(shown, { now, max }), silent }, signal);
      }
      if (r.ok) {
        const meta: TelegramDelivery = {
          chatId,
          ...(threadId !== undefined ? { threadId } : {}),
          messageId: r.messageId,
          messageIds: [r.messageId],
          alerts: [],
          digest: true,
        };
        for (const i of items) results.set(i.id, { ok: true, meta });
        this.o.logger.warn({ receiver, coalesced: items.length }, 'telegram: backlog over the pace, sent one digest');
      } else for (const i of items) results.set(i.id, this.failed(receiver, chatId, r.failure));
      return results;
    }

    const item = continuing ?? items[0]!;
    const n = forRoute(route, item.notification) ?? item.notification;
    let p = this.progress.get(item.id);
    // One incident, one thread: updates edit the first message (and reply when they need attention),
    // reminders and resolves reply to it. Without a first message here, an update is sent as a page.
    const thread = p ? undefined : await this.firingMessageOf(receiver, n);
    if (!p && n.kind === 'update' && thread) {
      await this.editThreadHead(chatId, thread, n, signal);
      if (!n.alerts.some((a) => a.attention)) {
        results.set(item.id, { ok: true, meta: thread });
        return results;
      }
      p = { parts: [renderUpdateReply(n, { now })], sent: [] };
    }
    if (!p) {
      const parts = renderNotificationParts(n, {
        now,
        ...(this.o.maxSampleLines !== undefined ? { maxSampleLines: this.o.maxSampleLines } : {}),
        ...(this.o.maxSampleChars !== undefined ? { maxSampleChars: this.o.maxSampleChars } : {}),
      });
      const keyboard = alertKeyboard(n);
      p = { parts, sent: [], ...(keyboard ? { keyboard } : {}) };
    }
    const index = p.sent.length;
    const replyTo = index === 0 && (n.kind !== 'firing' || n.alerts.every((a) => a.repeat)) ? thread : undefined;
    let r: Awaited<ReturnType<TelegramNotifier['send']>>;
    for (let resplits = 0; ; resplits++) {
      const last = index === p.parts.length - 1;
      r = await this.send(
        chatId,
        threadId,
        {
          text: partText(p.parts, index),
          silent: n.rule.severity === 'info',
          ...(replyTo ? { replyTo: replyTo.messageId } : index > 0 ? { replyTo: p.sent[0]! } : {}),
          ...(last && p.keyboard ? { keyboard: p.keyboard } : {}),
        },
        signal,
      );
      // Nothing was sent, so this is not a second message in the pacing slot: re-split and try again now.
      if (r.ok || !r.failure.tooLong || resplits >= MAX_RESPLITS) break;
      p.parts = resplitPart(p.parts, index);
      this.o.logger.warn(
        { receiver, outboxId: item.id, part: index + 1, parts: p.parts.length },
        'telegram: part refused as too long; re-split',
      );
    }
    const last = index === p.parts.length - 1;
    if (!r.ok) {
      this.progress.delete(item.id);
      if (p.sent.length > 0 && !r.failure.retryable) {
        // Part of it arrived: report it delivered rather than re-sending what people already read.
        results.set(item.id, { ok: true, meta: this.deliveryMeta(chatId, threadId, p.sent, n) });
        return results;
      }
      if (p.sent.length > 0) this.progress.set(item.id, p);
      results.set(item.id, this.failed(receiver, chatId, r.failure));
      return results;
    }
    p.sent.push(r.messageId);
    if (!last) {
      this.progress.set(item.id, p); // the next part goes at the next send slot
      return results;
    }
    this.progress.delete(item.id);
    const meta = this.deliveryMeta(chatId, threadId, p.sent, n);
    // A message sent on its own (not a reply) opens the thread of the alerts it shows.
    results.set(item.id, { ok: true, meta, ...(replyTo || n.kind === 'resolved' ? {} : { thread: meta }) });
    if (replyTo && n.kind === 'resolved') await this.markFiringResolved(chatId, replyTo, n, signal);
    return results;
  }

  /** Edits the incident's first message to what it says now (phase, story, latest sample). Best effort: the reply carries the news. */
  private async editThreadHead(
    chatId: string,
    d: TelegramDelivery,
    n: Notification,
    signal: AbortSignal,
  ): Promise<void> {
    if (d.digest) return;
    const alerts: Alert[] = [];
    for (const fp of d.alerts.length ? d.alerts : n.alerts.map((a) => a.fingerprint)) {
      const a = await this.o.store.findAlert(fp).catch(() => undefined);
      if (a) alerts.push(a);
    }
    if (alerts.length === 0) return;
    const firing = alerts.filter((a) => a.state === 'firing');
    const keyboard = firing.length
      ? alertKeyboard({ ...n, kind: 'firing', alerts: firing.map((a) => ({ ...a, repeat: false })) })
      : undefined;
    try {
      await this.telegram.callApi(
        'editMessageText',
        {
          chat_id: chatId,
          message_id: d.messageId,
          text: renderThreadHead(n, alerts, {
            now: this.now(),
            ...(this.o.maxSampleChars !== undefined ? { maxSampleChars: this.o.maxSampleChars } : {}),
          }),
          parse_mode: 'HTML',
          link_preview_options: { is_disabled: true },
          ...(keyboard ? { reply_markup: { inline_keyboard: keyboard } } : {}),
        },
        apiSignal(signal),
      );
    } catch (e) {
      this.o.logger.debug(
        { chat: chatId, messageId: d.messageId, error: classifyError(e, this.o.token).message },
        'telegram: could not edit the first message of the incident',
      );
    }
  }

  private deliveryMeta(
    chatId: string,
    threadId: number | undefined,
    sent: number[],
    n: Notification,
  ): TelegramDelivery {
    return {
      chatId,
      ...(threadId !== undefined ? { threadId } : {}),
      messageId: sent[0]!,
      messageIds: sent,
      alerts: n.alerts.map((a) => a.fingerprint),
    };
  }

  private failed(receiver: string, chatId: string, f: ApiFailure): DeliveryResult {
    if (!f.retryable) {
      const prev = this.rejected.get(chatId);
      this.rejected.set(chatId, { code: f.code, message: f.message, at: this.now(), count: (prev?.count ?? 0) + 1 });
      this.o.logger.error(
        { receiver, chat: chatId, code: f.code, error: f.message },
        'telegram rejected the message; not retrying (check the chat id and that the bot is a member)',
      );
    }
    if (f.retryAfterMs !== undefined) this.pacer.block(chatId, this.now() + f.retryAfterMs);
    return {
      ok: false,
      retryable: f.retryable,
      error: f.message,
      ...(f.retryAfterMs !== undefined ? { retryAfterMs: f.retryAfterMs } : {}),
    };
  }

  /**
   * The first message of the incident (its first alert that has one in this chat): what updates edit
   * and what reminders and resolves reply to. Falls back to the older per-alert delivery record.
   */
  private async firingMessageOf(receiver: string, n: Notification): Promise<TelegramDelivery | undefined> {
    for (const a of n.alerts) {
      const t = (await this.o.store.threadOf(receiver, a.fingerprint, a.activeSince).catch(() => undefined)) as
        | TelegramDelivery
        | undefined;
      if (t && typeof t.messageId === 'number' && !t.digest) return t;
    }
    // Alerts that fired before threads were recorded (an upgrade mid-incident): their resolve still finds the page.
    if (n.kind !== 'resolved') return undefined;
    for (const a of n.alerts) {
      const d = (await this.o.store.deliveryOf(receiver, a.fingerprint).catch(() => undefined)) as
        | TelegramDelivery
        | undefined;
      if (d && typeof d.messageId === 'number') return d;
    }
    return undefined;
  }

  /** Edits the firing message to "resolved" once every alert it showed is resolved. Best effort. */
  private async markFiringResolved(
    chatId: string,
    d: TelegramDelivery,
    n: Notification,
    signal: AbortSignal,
  ): Promise<void> {
    if (d.digest || d.alerts.length === 0) return;
    const alerts: Alert[] = [];
    for (const fp of d.alerts) {
      const a = await this.o.store.findAlert(fp).catch(() => undefined);
      if (a && a.state !== 'resolved') return; // some alert of that message still fires
      if (a) alerts.push(a);
    }
    const shown = alerts.length ? alerts : n.alerts.map((a) => ({ ...a, state: 'resolved' as const }));
    try {
      await this.telegram.callApi(
        'editMessageText',
        {
          chat_id: chatId,
          message_id: d.messageId,
          text: renderResolvedEdit(n, shown, { now: this.now() }),
          parse_mode: 'HTML',
        },
        apiSignal(signal),
      );
    } catch (e) {
      this.o.logger.debug(
        { chat: chatId, messageId: d.messageId, error: classifyError(e, this.o.token).message },
        'telegram: could not edit the firing message',
      );
    }
  }

  private async send(
    chatId: string,
    threadId: number | undefined,
    m: { text: string; silent: boolean; replyTo?: number; keyboard?: InlineButton[][] },
    signal: AbortSignal,
  ): Promise<{ ok: true; messageId: number } | { ok: false; failure: ApiFailure }> {
    const payload = {
      chat_id: chatId,
      text: m.text,
      parse_mode: 'HTML' as const,
      link_preview_options: { is_disabled: true },
      ...(threadId !== undefined ? { message_thread_id: threadId } : {}),
      ...(m.silent ? { disable_notification: true } : {}),
      ...(m.replyTo !== undefined
        ? { reply_parameters: { message_id: m.replyTo, allow_sending_without_reply: true } }
        : {}),
      ...(m.keyboard ? { reply_markup: { inline_keyboard: m.keyboard } } : {}),
    };
    try {
      const msg = await this.telegram.callApi('sendMessage', payload, apiSignal(signal));
      this.rejected.delete(chatId);
      return { ok: true, messageId: msg.message_id };
    } catch (e) {
      const failure = classifyError(e, this.o.token);
      if (!failure.parseError) return { ok: false, failure };
      // Our HTML was refused (a formatter bug): the facts still matter more than the formatting.
      this.o.logger.error(
        { chat: chatId, error: failure.message },
        'telegram refused the HTML; resending as plain text',
      );
      const { parse_mode: _pm, ...plain } = payload;
      try {
        const msg = await this.telegram.callApi(
          'sendMessage',
          { ...plain, text: truncateText(htmlToPlain(m.text), 4096) },
          apiSignal(signal),
        );
        return { ok: true, messageId: msg.message_id };
      } catch (e2) {
        return { ok: false, failure: classifyError(e2, this.o.token) };
      }
    }
  }

  async close(): Promise<void> {
    this.progress.clear();
  }
}

export { redact };

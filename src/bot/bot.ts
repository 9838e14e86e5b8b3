import { Telegraf, TelegramError, type Context } from 'telegraf';
import type { Message, Update, User } from '@telegraf/types';
import type { Logger } from '../log.js';
import { utc } from '../notify/telegram/format.js';
import { escapeHtml, htmlToPlain, TELEGRAM_MAX_CHARS, truncateText } from '../notify/telegram/html.js';
import { redact } from '../notify/telegram/errors.js';
import { ALERT_ID_RE } from './args.js';
import { chatAllowed, mayMutate, RefusalLog, type AuthPolicy } from './auth.js';
import { COMMANDS, type BotDeps, type Command } from './commands/index.js';
import type { CommandReply } from './commands/types.js';
import {
  ackAlert,
  addSilence,
  ambiguousHtml,
  notRoutedHtml,
  resolveAlert,
  silenceForAlert,
} from './commands/mutate.js';
import { inScope, scopeOf } from './scope.js';
import { pressDrill, reportHtml } from './drill.js';

export const STALE_REPLY = 'ignored: sent while the service was down';
const DEFAULT_STALE_MS = 120_000;

export interface TelegramBotOptions {
  token: string;
  apiRoot: string;
  mode?: 'polling' | 'webhook';
  /** Webhook mode: the public HTTPS URL Telegram posts to, where to listen, and the secret_token it must send. */
  webhook?: { url: string; listen: string; port: number; secret_token: string };
  /** Read at every update, so a reload's chats and allowed_users apply at once. */
  auth: () => AuthPolicy;
  /** Commands older than this were sent while the service was down: answered "ignored", not run (default 2 min). */
  staleAfterMs?: () => number;
  deps: BotDeps;
  logger: Logger;
  /** Told about polling problems (409 Conflict, rejected token) so /readyz can show them; undefined = fine again. */
  onProblem?: (problem: string | undefined) => void;
  /** After a 409 or a failed launch, try polling again after this long. */
  retryMs?: number;
  /** A handler running longer than this is abandoned (it never blocks polling for long). */
  handlerTimeoutMs?: number;
  /** start() waits at most this long for Telegram (default 10 s). */
  startTimeoutMs?: number;
}

export const CONFLICT_PROBLEM =
  'another bot instance is polling this token (409 Conflict): commands may be answered by the other instance; alerts are still sent';

const userLabel = (u: User | undefined): string =>
  u
    ? `${u.username ? `@${u.username}` : [u.first_name, u.last_name].filter(Boolean).join(' ')} (id ${u.id})`
    : 'unknown';

/**
 * The Telegram bot: long polling (or a webhook with secret_token), commands registered with
 * setMyCommands, an auth gate in front of every update, and an error boundary so a failing
 * handler never stops polling or the process. A second poller on the same token (409) is
 * reported and retried; alert delivery does not depend on the bot.
 */
export class TelegramBot {
  readonly bot: Telegraf;
  private problem: string | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  private running: Promise<void> | undefined;
  private readonly refusals = new RefusalLog();
  private readonly log: Logger;
  /** Button presses that were waiting when the service started: their age is unknown (no date), so they are not run. */
  private readonly backlog = new Set<number>();

  constructor(private readonly o: TelegramBotOptions) {
    this.log = o.logger.child({ component: 'telegram-bot' });
    this.bot = new Telegraf(o.token, {
      telegram: { apiRoot: o.apiRoot, webhookReply: false },
      handlerTimeout: o.handlerTimeoutMs ?? 30_000,
    });
    this.observePolling();
    this.bot.catch((err, ctx) => {
      this.log.error(
        { update: ctx.update.update_id, chat: ctx.chat?.id, user: ctx.from?.id, error: this.safe(err) },
        'telegram update handler failed',
      );
    });
    this.bot.use((ctx, next) => this.gate(ctx, next));
    for (const c of COMMANDS) this.bot.command(c.name, (ctx) => this.runCommand(c, ctx, ctx.message));
    this.bot.start((ctx) => this.runCommand(COMMANDS.find((c) => c.name === 'help')!, ctx, ctx.message));
    this.bot.on('callback_query', (ctx) => this.onCallback(ctx));
  }

  private safe(err: unknown): string {
    return redact(err instanceof Error ? err.message : String(err), this.o.token);
  }

  /** Wraps our own client so a successful getUpdates clears a reported 409. */
  private observePolling(): void {
    const tg = this.bot.telegram;
    const call = tg.callApi.bind(tg);
    tg.callApi = (async (method: string, payload: unknown, opts?: unknown) => {
      const r = await (call as (m: string, p: unknown, o?: unknown) => Promise<unknown>)(method, payload, opts);
      if (method === 'getUpdates' && this.problem) this.setProblem(undefined);
      return r;
    }) as typeof tg.callApi;
  }

  private setProblem(p: string | undefined): void {
    if (p === this.problem) return;
    this.problem = p;
    if (!p) this.log.info('telegram polling works again');
    this.o.onProblem?.(p);
  }

  health(): { ok: boolean; detail?: string } {
    return this.problem ? { ok: false, detail: this.problem } : { ok: true, detail: `${this.o.mode ?? 'polling'}` };
  }

  /** Registers commands and starts receiving updates. Never throws: a bot problem must not stop alerting. */
  async start(): Promise<void> {
    this.stopped = false;
    const bound = this.o.startTimeoutMs ?? 10_000;
    const within = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, bound).unref())]);
    await within(
      this.bot.telegram
        .setMyCommands(COMMANDS.map((c) => ({ command: c.name, description: c.description })))
        .catch((e: unknown) => {
          this.log.warn(
            { error: this.safe(e) },
            'telegram setMyCommands failed; commands still work, the menu may be stale',
          );
        }),
    );
    if (this.o.mode !== 'webhook') await within(this.noteBacklog());
    // Bounded: an unreachable Bot API must not hold up the service start (launch keeps trying in the background).
    await within(this.launch());
  }

  /**
   * Looks at what waited while the service was down (without confirming it: polling handles it
   * next). Callback queries carry no date, so a press found waiting cannot be proven fresh.
   */
  private async noteBacklog(): Promise<void> {
    try {
      for (let offset = 0; ; ) {
        const updates = await this.bot.telegram.getUpdates(0, 100, offset, ['message', 'callback_query']);
        for (const u of updates) if ('callback_query' in u) this.backlog.add(u.update_id);
        if (updates.length < 100) return;
        offset = updates.at(-1)!.update_id + 1;
      }
    } catch (e) {
      if (e instanceof TelegramError && e.code === 409) {
        this.log.error(`telegram: ${CONFLICT_PROBLEM}. Run one bot per token (or use webhook mode).`);
        return this.setProblem(CONFLICT_PROBLEM);
      }
      this.log.warn({ error: this.safe(e) }, 'telegram: could not read the updates waiting at start');
    }
  }

  private launch(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const webhook = this.o.mode === 'webhook' && this.o.webhook ? this.o.webhook : undefined;
      const cfg = {
        allowedUpdates: ['message', 'callback_query'] as ('message' | 'callback_query')[],
        ...(webhook
          ? {
              webhook: {
                domain: new URL(webhook.url).host,
                path: new URL(webhook.url).pathname,
                host: webhook.listen,
                port: webhook.port,
                secretToken: webhook.secret_token,
              },
            }
          : {}),
      };
      const done = this.bot.launch(cfg, () => {
        this.log.info(
          { bot: this.bot.botInfo?.username, mode: webhook ? 'webhook' : 'polling' },
          'telegram bot started',
        );
        resolve();
      });
      this.running = done.then(
        () => {
          resolve();
        },
        (err: unknown) => {
          this.onLaunchError(err);
          resolve();
        },
      );
    });
  }

  private onLaunchError(err: unknown): void {
    if (this.stopped) return;
    const retryMs = this.o.retryMs ?? 30_000;
    if (err instanceof TelegramError && err.code === 409) {
      this.log.error(
        { retryInMs: retryMs },
        `telegram: ${CONFLICT_PROBLEM}. Run one bot per token (or use webhook mode).`,
      );
      this.setProblem(CONFLICT_PROBLEM);
    } else if (err instanceof TelegramError && err.code === 401) {
      this.log.error('telegram rejected the bot token (401 Unauthorized): check notifiers.telegram.token');
      this.setProblem('the bot token was rejected (401 Unauthorized)');
    } else {
      this.log.error({ error: this.safe(err), retryInMs: retryMs }, 'telegram bot stopped receiving updates; retrying');
      this.setProblem(`bot cannot receive updates: ${this.safe(err)}`);
    }
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.launch(), retryMs);
    this.retryTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    try {
      this.bot.stop('shutdown');
    } catch {
      /* not running */
    }
    if (this.running) await Promise.race([this.running, new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  /** Only configured chats get through; others get one short refusal at most, and are logged. */
  private async gate(ctx: Context, next: () => Promise<void>): Promise<void> {
    const chatId = ctx.chat?.id;
    if (chatAllowed(this.o.auth(), chatId)) {
      if (await this.refuseStale(ctx)) return;
      return next();
    }
    this.log.warn(
      { chat: chatId, user: ctx.from?.id, username: ctx.from?.username, kind: ctx.updateType },
      'telegram: update from a chat that is not allowed; ignored',
    );
    if (ctx.callbackQuery) {
      await ctx.answerCbQuery('Not authorized.').catch(() => undefined);
      return;
    }
    const text = ctx.message && 'text' in ctx.message ? ctx.message.text : '';
    if (text.startsWith('/') && this.refusals.shouldRefuse(String(chatId), this.o.deps.now())) {
      await ctx
        .reply('Not authorized.', {
          reply_parameters: { message_id: ctx.message!.message_id, allow_sending_without_reply: true },
        })
        .catch(() => undefined);
    }
  }

  /** True when the update was sent while the service was down: answered, logged, not run. */
  private async refuseStale(ctx: Context): Promise<boolean> {
    const now = this.o.deps.now();
    const maxAge = this.o.staleAfterMs?.() ?? DEFAULT_STALE_MS;
    if (ctx.callbackQuery) {
      if (!this.backlog.delete(ctx.update.update_id)) return false;
      this.log.warn(
        {
          chat: ctx.chat?.id,
          user: ctx.from?.id,
          data: 'data' in ctx.callbackQuery ? ctx.callbackQuery.data : undefined,
        },
        'telegram: button pressed while the service was down; ignored',
      );
      await ctx.answerCbQuery(`${STALE_REPLY}; press it again if still needed`).catch(() => undefined);
      return true;
    }
    const msg = ctx.message;
    if (!msg || now - msg.date * 1000 <= maxAge) return false;
    const text = 'text' in msg ? msg.text : '';
    this.log.warn(
      { chat: ctx.chat?.id, user: ctx.from?.id, ageMs: now - msg.date * 1000, text: truncateText(text, 100) },
      'telegram: command sent while the service was down; ignored',
    );
    if (text.startsWith('/')) {
      await ctx
        .reply(`${STALE_REPLY} (${utc(msg.date * 1000)}); send it again if still needed.`, {
          reply_parameters: { message_id: msg.message_id, allow_sending_without_reply: true },
        })
        .catch(() => undefined);
    }
    return true;
  }

  private async runCommand(c: Command, ctx: Context, message: Message.TextMessage): Promise<void> {
    const user = { id: ctx.from?.id ?? 0, label: userLabel(ctx.from) };
    let html: string;
    let buttons: { text: string; data: string }[][] | undefined;
    let photo: Exclude<CommandReply, string>['photo'];
    if (c.mutating && !mayMutate(this.o.auth(), ctx.from?.id)) {
      this.log.warn(
        { chat: ctx.chat?.id, user: ctx.from?.id, command: c.name },
        'telegram: user not allowed to change alerts',
      );
      html = 'Not authorized to change alerts.';
    } else {
      try {
        const r = await c.run({
          args: message.text.replace(/^\/\S*\s*/, ''),
          deps: this.o.deps,
          user,
          chatId: ctx.chat!.id,
        });
        if (typeof r === 'string') html = r;
        else ({ html, buttons, photo } = r);
      } catch (e) {
        this.log.error({ command: c.name, chat: ctx.chat?.id, error: this.safe(e) }, 'telegram command failed');
        html = `⚠️ /${c.name} failed: ${escapeHtml(truncateText(this.safe(e), 300))}`;
      }
    }
    if (photo) {
      // The chart first, the numbers under it; a chart that cannot be sent still leaves the numbers.
      // telegraf 4.16 drops object fields it does not know from multipart uploads (reply_parameters
      // among them): sent as the JSON string the Bot API accepts in a form.
      const replyParameters = JSON.stringify({
        message_id: message.message_id,
        allow_sending_without_reply: true,
      }) as unknown as { message_id: number };
      await ctx
        .replyWithPhoto(
          { source: photo.png, filename: photo.filename },
          { caption: truncateText(photo.caption, 1000), reply_parameters: replyParameters },
        )
        .catch((e: unknown) =>
          this.log.warn(
            { command: c.name, chat: ctx.chat?.id, error: this.safe(e) },
            'telegram: could not send the chart; sending the text only',
          ),
        );
    }
    await ctx.reply(html, {
      parse_mode: 'HTML',
      link_preview_options: { is_disabled: true },
      reply_parameters: { message_id: message.message_id, allow_sending_without_reply: true },
      ...(buttons
        ? {
            reply_markup: {
              inline_keyboard: buttons.map((row) => row.map((b) => ({ text: b.text, callback_data: b.data }))),
            },
          }
        : {}),
    });
  }

  /** A drill confirmation button: answered at once; the drill runs in the background and its report is posted to the chat. */
  private async onDrillCallback(ctx: Context, data: string): Promise<void> {
    const user = { id: ctx.from?.id ?? 0, label: userLabel(ctx.from) };
    const p = pressDrill(this.o.deps, data, user, ctx.chat?.id);
    await ctx.answerCbQuery(truncateText(p.answer, 200)).catch(() => undefined);
    const msg = ctx.callbackQuery?.message;
    if (p.edit && msg) {
      await ctx.telegram
        .editMessageText(msg.chat.id, msg.message_id, undefined, p.edit, { parse_mode: 'HTML' })
        .catch((e: unknown) => this.log.debug({ error: this.safe(e) }, 'could not edit the drill confirmation'));
    }
    if (!p.start) return;
    this.log.info({ chat: ctx.chat?.id, user: user.id }, 'drill confirmed from Telegram');
    const chatId = ctx.chat!.id;
    void p.start().then(
      (r) => this.announce({ id: chatId }, reportHtml(r)),
      (e: unknown) =>
        this.announce({ id: chatId }, `⚠️ The drill failed to run: ${escapeHtml(truncateText(this.safe(e), 300))}`),
    );
  }

  /**
   * Ack / Silence buttons: answered every time (Telegram shows a spinner until then), and answered
   * before the change is made, so a slow store never leaves the spinner turning into a timeout.
   * The outcome shows in the edited message, or in a reply when it could not be done.
   */
  private async onCallback(ctx: Context): Promise<void> {
    const cq = ctx.callbackQuery!;
    const data = 'data' in cq ? cq.data : '';
    if (data.startsWith('drill:')) return this.onDrillCallback(ctx, data);
    const m = /^(ack|sil):([0-9a-f]{6,16})(?::(1h|24h))?$/.exec(data);
    const answer = (text: string) =>
      ctx
        .answerCbQuery(truncateText(text, 200))
        .catch((e) => this.log.debug({ error: this.safe(e) }, 'answerCallbackQuery failed'));
    if (!m || !ALERT_ID_RE.test(m[2]!) || (m[1] === 'sil' && !m[3])) return void (await answer('Unknown button.'));
    const user = { id: ctx.from?.id ?? 0, label: userLabel(ctx.from) };
    if (!mayMutate(this.o.auth(), ctx.from?.id)) {
      this.log.warn(
        { chat: ctx.chat?.id, user: ctx.from?.id, data },
        'telegram: button press by a user not allowed to change alerts',
      );
      return void (await answer('Not authorized to change alerts.'));
    }
    const found = await resolveAlert(this.o.deps, m[2]!);
    if (!found) return void (await answer('This alert is no longer known (it expired or was purged).'));
    if ('ambiguous' in found) {
      await answer('Ambiguous alert id: nothing was changed.');
      return void (await this.replyTo(
        ctx,
        ambiguousHtml(m[2]!, found.ambiguous, m[1] === 'ack' ? '/ack <id>' : `/silence <id> ${m[3]}`),
      ));
    }
    const alert = found.alert;
    if (!inScope(scopeOf(this.o.deps.chats(), ctx.chat?.id), alert))
      return void (await answer(htmlToPlain(notRoutedHtml(alert))));
    if (m[1] === 'ack' && alert.state === 'resolved')
      return void (await answer(htmlToPlain(await ackAlert(this.o.deps, alert, user))));
    await answer(m[1] === 'ack' ? `Acknowledging ${alert.shortId}…` : `Silencing ${alert.shortId} for ${m[3]}…`);
    const now = this.o.deps.now();
    let line: string;
    try {
      if (m[1] === 'ack') {
        const done = htmlToPlain(await ackAlert(this.o.deps, alert, user));
        if (!done.includes('acknowledged')) return void (await this.replyTo(ctx, escapeHtml(done)));
        line = `✔ Acked by ${user.label} at ${utc(now)}`;
      } else {
        const ms = m[3] === '1h' ? 3_600_000 : 86_400_000;
        const s = silenceForAlert(alert, ms, user.label, 'button', now);
        await addSilence(this.o.deps, s, { chatId: ctx.chat!.id, user: user.label }, alert.severity);
        this.log.info({ silence: s.id, alert: alert.fingerprint, by: user.id }, 'silence added from a Telegram button');
        line = `🔕 Silenced ${m[3]} by ${user.label} at ${utc(now)} (until ${utc(s.endsAt)}, /unsilence ${s.id})`;
      }
    } catch (e) {
      this.log.error({ data, error: this.safe(e) }, 'telegram button action failed');
      return void (await this.replyTo(
        ctx,
        `⚠️ ${m[1] === 'ack' ? 'Ack' : 'Silence'} of ${escapeHtml(alert.shortId)} failed: ${escapeHtml(truncateText(this.safe(e), 300))}`,
      ));
    }
    const msg = cq.message;
    if (msg && 'text' in msg && msg.text !== undefined) {
      const text = `${msg.text}\n\n${line}`;
      if (text.length > TELEGRAM_MAX_CHARS) return void (await this.replyTo(ctx, escapeHtml(line)));
      await ctx.telegram
        .callApi('editMessageText', {
          chat_id: msg.chat.id,
          message_id: msg.message_id,
          text,
          ...(msg.entities ? { entities: msg.entities } : {}),
          ...('reply_markup' in msg && msg.reply_markup ? { reply_markup: msg.reply_markup } : {}),
        })
        .catch((e: unknown) =>
          this.log.debug({ error: this.safe(e) }, 'could not edit the alert message after a button press'),
        );
    }
  }

  /** A message in the chat of a button press, replying to the message the button is under. */
  private async replyTo(ctx: Context, html: string): Promise<void> {
    const msg = ctx.callbackQuery?.message;
    await ctx
      .reply(html, {
        parse_mode: 'HTML',
        ...(msg ? { reply_parameters: { message_id: msg.message_id, allow_sending_without_reply: true } } : {}),
      })
      .catch((e: unknown) => this.log.warn({ error: this.safe(e) }, 'telegram: could not reply after a button press'));
  }

  /** Posts to a configured chat (a silence announcement). Best effort: logged, never thrown. */
  async announce(route: { id: number | string; thread_id?: number }, html: string): Promise<void> {
    await this.bot.telegram
      .sendMessage(route.id, html, {
        parse_mode: 'HTML',
        link_preview_options: { is_disabled: true },
        ...(route.thread_id !== undefined ? { message_thread_id: route.thread_id } : {}),
      })
      .catch((e: unknown) =>
        this.log.warn({ chat: route.id, error: this.safe(e) }, 'telegram: could not announce a silence'),
      );
  }
}

export type { Update };

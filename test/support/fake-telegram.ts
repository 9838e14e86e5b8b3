/**
 * A loopback Telegram Bot API for tests that run the real telegraf client over real HTTP.
 *
 * Fidelity choices (why this exists instead of telegram-test-api, see research/tooling.md §1):
 * `getUpdates` is a real long poll with offset confirmation (no busy loop), `date` is Unix seconds,
 * errors use the Bot API envelope and HTTP status, and sendMessage validates HTML like the server does.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import type { Chat, Message, Update, User, UserFromGetMe } from '@telegraf/types';
import { parseTelegramHtml, TELEGRAM_MESSAGE_MAX, type TelegramEntity } from './telegram-html.js';

export {
  parseTelegramHtml,
  telegramHtmlLength,
  validateTelegramHtml,
  TelegramHtmlError,
  TELEGRAM_MESSAGE_MAX,
} from './telegram-html.js';

export type ChatType = 'private' | 'group' | 'supergroup' | 'channel';

/**
 * Telegram's flood control as documented in the Bot FAQ ("My bot is hitting limits, how do I avoid
 * this?"): about one message per second in a chat, short bursts tolerated; at most 20 messages per
 * minute in a group; about 30 messages per second overall. Over a limit the server answers 429
 * with `parameters.retry_after` (whole seconds). Only messages actually sent count (a refused or
 * failed call does not); edits, callbacks and other methods are not limited here.
 */
export interface FloodLimits {
  /** Messages per second a chat's bucket refills with. */
  perChatPerSecond: number;
  /** Messages a chat can take at once before the per-second rate applies (the tolerated burst). */
  perChatBurst: number;
  /** Messages in any 60 s to one group, supergroup or channel (negative id or @username). */
  groupPerMinute: number;
  /** Messages in any 1 s over all chats. */
  globalPerSecond: number;
}

export const TELEGRAM_FLOOD_LIMITS: Readonly<FloodLimits> = Object.freeze({
  perChatPerSecond: 1,
  perChatBurst: 3,
  groupPerMinute: 20,
  globalPerSecond: 30,
});

export interface FakeTelegramOptions {
  /** Requests for any other token get 401 Unauthorized, as the real API does. */
  token?: string;
  /** Chats that exist; anything else is "chat not found". Default: every chat exists. */
  knownChats?: Iterable<number | string> | 'any';
  /** Chats whose user blocked the bot: sending there is 403. */
  blockedChats?: Iterable<number | string>;
  botInfo?: Partial<UserFromGetMe>;
  /** Clock in milliseconds; drives `calls[].at` and message dates (Unix seconds). */
  now?: () => number;
  /** Upper bound for a held getUpdates, so a forgotten bot cannot keep a test alive for telegraf's 50 s. */
  maxPollMs?: number;
  /**
   * Flood control (429 with retry_after) for sendMessage with Telegram's documented rates
   * ({@link TELEGRAM_FLOOD_LIMITS}); pass `{}` for those, some limits to override them, or `false`
   * (the default here: bot-command tests answer several commands a second in one chat, faster than a
   * person types). test/telegram/harness.ts (notifier + outbox) turns it on by default.
   */
  floodControl?: Partial<FloodLimits> | false;
  /** Public usernames of channels/supergroups (`'@name'` → chat id), accepted wherever a chat_id is. */
  usernames?: Record<string, number>;
}

/** What a test can make the next call(s) of a method fail with. */
export type InjectedFailure =
  | { status: 429; retryAfter: number; description?: string }
  | { status: 500 | 502 | 503 | 504; description?: string }
  | { status: 400 | 401 | 403 | 404 | 409; description?: string; parameters?: Record<string, unknown> }
  /** Destroy the socket without an HTTP response (telegraf sees a FetchError). */
  | { status: 'reset' };

export interface CallRecord {
  method: string;
  params: Record<string, unknown>;
  /** Arrival time in ms from the injected clock. */
  at: number;
  respondedAt: number;
  /** HTTP status sent; 0 when the socket was reset or the client went away first (e.g. a poll aborted by bot.stop()). */
  status: number;
  /** The JSON body sent (or a string for non-JSON bodies such as a 502 page). */
  response: unknown;
}

export interface StoredMessage {
  chatId: number;
  messageId: number;
  fromBot: boolean;
  /** Text as the user sees it (HTML entities parsed). */
  text: string;
  /** Text exactly as the bot sent it. */
  rawText: string;
  parseMode?: string;
  entities: TelegramEntity[];
  replyMarkup?: unknown;
  replyToMessageId?: number;
  replyParameters?: unknown;
  messageThreadId?: number;
  disableNotification?: boolean;
  /** Unix seconds, as in the API. */
  date: number;
  editDate?: number;
  /** Previous versions, oldest first. */
  history: Array<{ rawText: string; parseMode?: string; replyMarkup?: unknown; at: number }>;
  deleted: boolean;
  message: Message;
  /** sendPhoto: the uploaded image (text is then the caption). */
  photo?: Buffer;
}

export interface PushCommandOptions {
  chatType?: ChatType;
  username?: string;
  firstName?: string;
  messageThreadId?: number;
  title?: string;
}

export interface WaitOptions {
  /** Only consider calls with index >= after in `calls` (see {@link FakeTelegram.mark}). */
  after?: number;
}

export interface FakeTelegram {
  /** Ends with '/', as telegraf needs (it resolves `./bot<token>/<method>` against it). */
  readonly apiRoot: string;
  readonly token: string;
  readonly port: number;
  readonly calls: CallRecord[];
  readonly botUser: UserFromGetMe;
  fail(method: string, failure: InjectedFailure, times?: number): void;
  /** Hold every following call of `method` for `ms` before handling it (0 removes the delay). */
  delay(method: string, ms: number, opts?: { phase?: 'before' | 'after' }): void;
  pushUpdate(update: Omit<Update, 'update_id'> & { update_id?: number }): Update;
  pushCommand(chatId: number, userId: number, text: string, opts?: PushCommandOptions): Update;
  pushCallback(
    chatId: number,
    userId: number,
    data: string,
    messageId: number,
  ): Update & { callback_query: { id: string } };
  /** Resolves with the first answered call matching; rejects after timeoutMs with the recent call log. */
  waitForCall(
    method: string,
    predicate?: (c: CallRecord) => boolean,
    timeoutMs?: number,
    opts?: WaitOptions,
  ): Promise<CallRecord>;
  /** Resolves once a getUpdates request is being held open (the bot is idle and polling). */
  waitForPolling(timeoutMs?: number): Promise<void>;
  /** The getUpdates request currently held open, if any (its offset shows what the bot has confirmed). */
  heldPoll(): { offset: number; limit: number; params: Record<string, unknown> } | undefined;
  /** Index to pass as `after` so later waits ignore calls made so far. */
  mark(): number;
  callsOf(method: string): CallRecord[];
  /** Messages the bot sent to the chat (not deleted unless asked), oldest first. */
  messages(chatId: number | string, opts?: { includeUser?: boolean; includeDeleted?: boolean }): StoredMessage[];
  /** Commands set with setMyCommands, by `scope type|language_code`. */
  commands(scopeKey?: string): unknown[] | undefined;
  /** callback_query ids answered, with their params. */
  readonly callbackAnswers: Array<Record<string, unknown>>;
  /** Updates pushed and not yet confirmed by an offset. */
  pendingUpdates(): Update[];
  addChat(chatId: number | string, type?: ChatType): void;
  /** Change the flood control from now on (`false`: off); the counts so far are kept. */
  setFloodControl(limits: Partial<FloodLimits> | false): void;
  block(chatId: number | string, blocked?: boolean): void;
  webhookUrl(): string | undefined;
  close(): Promise<void>;
}

interface PollWaiter {
  res: http.ServerResponse;
  params: Record<string, unknown>;
  limit: number;
  offset: number;
  timer: NodeJS.Timeout;
  finish: (updates: Update[]) => void;
  conflict: () => void;
}

interface CallWaiter {
  method: string;
  predicate: (c: CallRecord) => boolean;
  after: number;
  resolve: (c: CallRecord) => void;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly description: string,
    readonly parameters?: Record<string, unknown>,
  ) {
    super(description);
  }
}
const badRequest = (d: string): ApiError => new ApiError(400, `Bad Request: ${d}`);

const METHOD_NAMES = [
  'getMe',
  'deleteWebhook',
  'setWebhook',
  'getWebhookInfo',
  'getUpdates',
  'sendMessage',
  'editMessageText',
  'editMessageReplyMarkup',
  'answerCallbackQuery',
  'setMyCommands',
  'getMyCommands',
  'deleteMyCommands',
  'deleteMessage',
  'sendChatAction',
  'getChat',
  'sendPhoto',
];
/** The Bot API treats method names case-insensitively. */
const CANONICAL = new Map(METHOD_NAMES.map((m) => [m.toLowerCase(), m]));

const DEFAULT_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
  500: 'Internal Server Error',
};

export async function startFakeTelegram(opts: FakeTelegramOptions = {}): Promise<FakeTelegram> {
  const token = opts.token ?? '123456789:TEST-fake-telegram-token';
  const now = opts.now ?? Date.now;
  const maxPollMs = opts.maxPollMs ?? 60_000;
  const botId = Number(token.split(':')[0]) || 123456789;
  const botUser: UserFromGetMe = {
    id: botId,
    is_bot: true,
    first_name: 'Fake Bot',
    username: 'fake_test_bot',
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    can_connect_to_business: false,
    has_main_web_app: false,
    ...opts.botInfo,
  } as UserFromGetMe;

  let flood: FloodLimits | undefined =
    opts.floodControl === false || opts.floodControl === undefined
      ? undefined
      : { ...TELEGRAM_FLOOD_LIMITS, ...opts.floodControl };
  /** Per chat: tokens left and when they were counted (a bucket refilling at perChatPerSecond). */
  const chatBuckets = new Map<string, { tokens: number; at: number }>();
  /** Send times, newest last: per group (60 s window) and overall (1 s window). */
  const groupSends = new Map<string, number[]>();
  const globalSends: number[] = [];
  const usernames = new Map(
    Object.entries(opts.usernames ?? {}).map(([u, id]) => [u.replace(/^@/, '').toLowerCase(), id]),
  );
  const knownChats =
    opts.knownChats === undefined || opts.knownChats === 'any' ? null : new Set([...opts.knownChats].map(String));
  const blocked = new Set([...(opts.blockedChats ?? [])].map(String));
  const chats = new Map<string, Chat>();
  const store = new Map<string, Map<number, StoredMessage>>();
  const nextMessageId = new Map<string, number>();
  const failures = new Map<string, Array<{ failure: InjectedFailure; left: number }>>();
  const delays = new Map<string, { ms: number; phase: 'before' | 'after' }>();
  const queue: Update[] = [];
  let nextUpdateId = 500_000_001;
  let nextCallbackId = 1;
  const openCallbacks = new Set<string>();
  const callbackAnswers: Array<Record<string, unknown>> = [];
  const myCommands = new Map<string, unknown[]>();
  let webhook: string | undefined;
  let poll: PollWaiter | undefined;
  const pollWatchers: Array<() => void> = [];
  const calls: CallRecord[] = [];
  const callWaiters = new Set<CallWaiter>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  function chatFor(chatId: number | string, type?: ChatType, title?: string): Chat {
    const key = String(chatId);
    const existing = chats.get(key);
    if (existing && (type === undefined || existing.type === type)) return existing;
    const id = Number(chatId);
    // Telegram's id ranges: users > 0, basic groups < 0, supergroups -100xxxxxxxxxx.
    const t: ChatType = type ?? (id > 0 ? 'private' : key.startsWith('-100') ? 'supergroup' : 'group');
    const chat = (
      t === 'private' ? { id, type: 'private', first_name: `User${id}` } : { id, type: t, title: title ?? `Chat ${id}` }
    ) as Chat;
    chats.set(key, chat);
    return chat;
  }

  function userFor(userId: number, o: PushCommandOptions = {}): User {
    return {
      id: userId,
      is_bot: false,
      first_name: o.firstName ?? `User${userId}`,
      ...(o.username !== undefined ? { username: o.username } : {}),
      language_code: 'en',
    };
  }

  function allocMessageId(chatKey: string): number {
    const id = nextMessageId.get(chatKey) ?? 1;
    nextMessageId.set(chatKey, id + 1);
    return id;
  }

  function chatStore(chatKey: string): Map<number, StoredMessage> {
    let m = store.get(chatKey);
    if (!m) {
      m = new Map();
      store.set(chatKey, m);
    }
    return m;
  }

  const nowSeconds = (): number => Math.floor(now() / 1000);

  // ---- parameter helpers (JSON gives typed values, form encodings give strings) ----
  const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));
  const int = (v: unknown): number | undefined => {
    if (v === undefined || v === null || v === '') return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  const bool = (v: unknown): boolean | undefined =>
    v === undefined ? undefined : v === true || v === 'true' || v === 1 || v === '1';
  const obj = (v: unknown): unknown => {
    if (typeof v === 'string' && /^\s*[[{]/.test(v)) {
      try {
        return JSON.parse(v) as unknown;
      } catch {
        throw badRequest("can't parse JSON object");
      }
    }
    return v;
  };

  function requireChat(params: Record<string, unknown>): { key: string; chat: Chat } {
    const raw = str(params['chat_id']);
    if (raw === undefined || raw === '') throw badRequest('chat_id is empty');
    const key = chatKeyOf(raw);
    if (key === undefined) throw badRequest('chat not found');
    if (knownChats && !knownChats.has(raw) && !knownChats.has(key)) throw badRequest('chat not found');
    if (blocked.has(raw) || blocked.has(key)) throw new ApiError(403, 'Forbidden: bot was blocked by the user');
    return { key, chat: chatFor(key) };
  }

  /** Numeric chat id as a string; `@username` resolves through the known usernames (case-insensitive, as Telegram). */
  function chatKeyOf(raw: string): string | undefined {
    if (raw.startsWith('@')) {
      const id = usernames.get(raw.slice(1).toLowerCase());
      if (id === undefined) return undefined;
      const key = String(id);
      if (!chats.has(key)) {
        chats.set(key, { id, type: 'channel', title: `Channel ${raw}`, username: raw.slice(1) } as Chat);
      }
      return key;
    }
    return /^-?\d+$/.test(raw) ? raw : undefined;
  }

  /** Milliseconds until one more message may go to this chat under the flood limits (0: now). */
  function floodWait(key: string, at: number): number {
    if (!flood) return 0;
    let wait = 0;
    const b = chatBuckets.get(key);
    if (b) {
      const tokens = Math.min(flood.perChatBurst, b.tokens + ((at - b.at) * flood.perChatPerSecond) / 1000);
      if (tokens < 1) wait = Math.max(wait, ((1 - tokens) * 1000) / flood.perChatPerSecond);
    }
    const windowWait = (times: number[] | undefined, limit: number, windowMs: number): number => {
      if (!times || times.length < limit) return 0;
      return Math.max(0, times[times.length - limit]! + windowMs - at);
    };
    if (Number(key) < 0) wait = Math.max(wait, windowWait(groupSends.get(key), flood.groupPerMinute, 60_000));
    return Math.max(wait, windowWait(globalSends, flood.globalPerSecond, 1000));
  }

  /** Answers 429 as Telegram does when the message would exceed a limit; otherwise counts it. */
  function takeFloodSlot(key: string): void {
    if (!flood) return;
    const at = now();
    const wait = floodWait(key, at);
    if (wait > 0) {
      const retryAfter = Math.max(1, Math.ceil(wait / 1000));
      throw new ApiError(429, `Too Many Requests: retry after ${retryAfter}`, { retry_after: retryAfter });
    }
    const b = chatBuckets.get(key);
    const tokens = b
      ? Math.min(flood.perChatBurst, b.tokens + ((at - b.at) * flood.perChatPerSecond) / 1000)
      : flood.perChatBurst;
    chatBuckets.set(key, { tokens: tokens - 1, at });
    if (Number(key) < 0) {
      const g = groupSends.get(key) ?? [];
      g.push(at);
      if (g.length > flood.groupPerMinute) g.splice(0, g.length - flood.groupPerMinute);
      groupSends.set(key, g);
    }
    globalSends.push(at);
    if (globalSends.length > flood.globalPerSecond) globalSends.splice(0, globalSends.length - flood.globalPerSecond);
  }

  /** Returns plain text + entities the way the server stores them, or throws the API's parse error. */
  function renderText(
    text: string | undefined,
    parseMode: string | undefined,
  ): { text: string; entities: TelegramEntity[] } {
    if (text === undefined || text === '') throw badRequest('message text is empty');
    let plain = text;
    let entities: TelegramEntity[] = [];
    const mode = parseMode?.toLowerCase();
    if (mode === 'html') {
      const r = parseTelegramHtml(text);
      if (!r.ok) throw badRequest(`can't parse entities: ${r.error}`);
      plain = r.text;
      entities = r.entities;
    } else if (mode !== undefined && mode !== '' && mode !== 'markdown' && mode !== 'markdownv2') {
      throw badRequest('unsupported parse_mode');
    }
    // Markdown modes are stored verbatim: nothing here depends on them and a half-right parser would mislead.
    if (plain.trim() === '') throw badRequest('message text is empty');
    if (plain.length > TELEGRAM_MESSAGE_MAX) throw badRequest('message is too long');
    return { text: plain, entities };
  }

  function toMessage(m: Omit<StoredMessage, 'message'>, chat: Chat, from: User): Message {
    const msg: Record<string, unknown> = {
      message_id: m.messageId,
      from,
      chat,
      date: m.date,
      text: m.text,
    };
    if (m.entities.length > 0) msg['entities'] = m.entities;
    if (m.messageThreadId !== undefined) msg['message_thread_id'] = m.messageThreadId;
    if (m.editDate !== undefined) msg['edit_date'] = m.editDate;
    if (m.replyMarkup !== undefined && isInlineKeyboard(m.replyMarkup)) msg['reply_markup'] = m.replyMarkup;
    return msg as unknown as Message;
  }

  const isInlineKeyboard = (rm: unknown): boolean => typeof rm === 'object' && rm !== null && 'inline_keyboard' in rm;

  function findMessage(params: Record<string, unknown>, notFound: string): { stored: StoredMessage; key: string } {
    const { key } = requireChat(params);
    const messageId = int(params['message_id']);
    if (messageId === undefined) throw badRequest('message identifier is not specified');
    const stored = store.get(key)?.get(messageId);
    if (!stored || stored.deleted) throw badRequest(notFound);
    return { stored, key };
  }

  function refreshMessage(stored: StoredMessage): void {
    const from = stored.fromBot ? botUser : (stored.message.from as User);
    stored.message = toMessage(stored, stored.message.chat, from);
  }

  // ---- methods ----
  const handlers: Record<string, (p: Record<string, unknown>, res: http.ServerResponse) => unknown> = {
    getMe: () => botUser,
    getWebhookInfo: () => ({ url: webhook ?? '', has_custom_certificate: false, pending_update_count: queue.length }),
    deleteWebhook: (p) => {
      webhook = undefined;
      if (bool(p['drop_pending_updates'])) queue.length = 0;
      return true;
    },
    setWebhook: (p) => {
      const url = str(p['url']) ?? '';
      if (url !== '' && !/^https:\/\//.test(url))
        throw badRequest('bad webhook: An HTTPS URL must be provided for webhook');
      webhook = url === '' ? undefined : url;
      if (bool(p['drop_pending_updates'])) queue.length = 0;
      return true;
    },
    sendChatAction: (p) => {
      requireChat(p);
      return true;
    },
    getChat: (p) => requireChat(p).chat,
    sendMessage: (p) => {
      const { key, chat } = requireChat(p);
      const parseMode = str(p['parse_mode']);
      const rawText = str(p['text']) ?? '';
      const { text, entities } = renderText(rawText, parseMode);
      const replyParameters = obj(p['reply_parameters']) as
        | { message_id?: unknown; allow_sending_without_reply?: unknown }
        | undefined;
      const replyTo = int(p['reply_to_message_id']) ?? int(replyParameters?.message_id);
      const allowWithoutReply =
        bool(p['allow_sending_without_reply']) ?? bool(replyParameters?.allow_sending_without_reply) ?? false;
      const replied = replyTo === undefined ? undefined : store.get(key)?.get(replyTo);
      if (replyTo !== undefined && (!replied || replied.deleted) && !allowWithoutReply) {
        throw badRequest('message to be replied not found');
      }
      takeFloodSlot(key);
      const base: Omit<StoredMessage, 'message'> = {
        chatId: Number(key),
        messageId: allocMessageId(key),
        fromBot: true,
        text,
        rawText,
        ...(parseMode !== undefined ? { parseMode } : {}),
        entities,
        ...(p['reply_markup'] !== undefined ? { replyMarkup: obj(p['reply_markup']) } : {}),
        ...(replyTo !== undefined ? { replyToMessageId: replyTo } : {}),
        ...(replyParameters !== undefined ? { replyParameters } : {}),
        ...(int(p['message_thread_id']) !== undefined ? { messageThreadId: int(p['message_thread_id'])! } : {}),
        ...(p['disable_notification'] !== undefined ? { disableNotification: bool(p['disable_notification'])! } : {}),
        date: nowSeconds(),
        history: [],
        deleted: false,
      };
      const message = toMessage(base, chat, botUser);
      if (replied && !replied.deleted)
        (message as unknown as Record<string, unknown>)['reply_to_message'] = replied.message;
      const stored: StoredMessage = { ...base, message };
      chatStore(key).set(stored.messageId, stored);
      return message;
    },
    sendPhoto: (p) => {
      const { key, chat } = requireChat(p);
      const file = p['photo'] as { bytes?: Buffer; size?: number } | string | undefined;
      if (file === undefined || file === '') throw badRequest('there is no photo in the request');
      if (typeof file === 'object' && (file.size ?? 0) > 10 * 1024 * 1024) throw badRequest('PHOTO_INVALID_DIMENSIONS');
      const caption = str(p['caption']) ?? '';
      if (caption.length > 1024) throw badRequest('message caption is too long');
      const replyParameters = obj(p['reply_parameters']) as { message_id?: unknown } | undefined;
      const replyTo = int(p['reply_to_message_id']) ?? int(replyParameters?.message_id);
      const base: Omit<StoredMessage, 'message'> = {
        chatId: Number(key),
        messageId: allocMessageId(key),
        fromBot: true,
        text: caption,
        rawText: caption,
        entities: [],
        ...(replyTo !== undefined ? { replyToMessageId: replyTo } : {}),
        ...(replyParameters !== undefined ? { replyParameters } : {}),
        date: nowSeconds(),
        history: [],
        deleted: false,
        ...(typeof file === 'object' && file.bytes ? { photo: file.bytes } : {}),
      };
      const message = { ...(toMessage(base, chat, botUser) as unknown as Record<string, unknown>) };
      delete message['text'];
      message['photo'] = [
        { file_id: `photo-${key}-${base.messageId}`, file_unique_id: `u${base.messageId}`, width: 900, height: 420 },
      ];
      if (caption) message['caption'] = caption;
      const stored: StoredMessage = { ...base, message: message as unknown as Message };
      chatStore(key).set(stored.messageId, stored);
      return message;
    },
    editMessageText: (p) => {
      if (p['inline_message_id'] !== undefined) return true;
      const { stored } = findMessage(p, 'message to edit not found');
      if (!stored.fromBot) throw badRequest("message can't be edited");
      const parseMode = str(p['parse_mode']);
      const rawText = str(p['text']) ?? '';
      const { text, entities } = renderText(rawText, parseMode);
      const replyMarkup = p['reply_markup'] !== undefined ? obj(p['reply_markup']) : undefined;
      // The real API refuses no-op edits; bots that re-render on every tick must cope with this error.
      if (
        text === stored.text &&
        JSON.stringify(entities) === JSON.stringify(stored.entities) &&
        JSON.stringify(replyMarkup) === JSON.stringify(stored.replyMarkup)
      ) {
        throw badRequest(
          'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
        );
      }
      stored.history.push({
        rawText: stored.rawText,
        ...(stored.parseMode !== undefined ? { parseMode: stored.parseMode } : {}),
        replyMarkup: stored.replyMarkup,
        at: now(),
      });
      stored.text = text;
      stored.rawText = rawText;
      if (parseMode !== undefined) stored.parseMode = parseMode;
      else delete stored.parseMode;
      stored.entities = entities;
      // Omitting reply_markup in an edit removes the inline keyboard, as on the real server.
      if (replyMarkup !== undefined) stored.replyMarkup = replyMarkup;
      else delete stored.replyMarkup;
      stored.editDate = nowSeconds();
      refreshMessage(stored);
      return stored.message;
    },
    editMessageReplyMarkup: (p) => {
      if (p['inline_message_id'] !== undefined) return true;
      const { stored } = findMessage(p, 'message to edit not found');
      const replyMarkup = p['reply_markup'] !== undefined ? obj(p['reply_markup']) : undefined;
      if (JSON.stringify(replyMarkup) === JSON.stringify(stored.replyMarkup)) {
        throw badRequest(
          'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
        );
      }
      stored.history.push({
        rawText: stored.rawText,
        ...(stored.parseMode !== undefined ? { parseMode: stored.parseMode } : {}),
        replyMarkup: stored.replyMarkup,
        at: now(),
      });
      if (replyMarkup !== undefined) stored.replyMarkup = replyMarkup;
      else delete stored.replyMarkup;
      stored.editDate = nowSeconds();
      refreshMessage(stored);
      return stored.message;
    },
    deleteMessage: (p) => {
      const { stored } = findMessage(p, 'message to delete not found');
      stored.deleted = true;
      return true;
    },
    answerCallbackQuery: (p) => {
      const id = str(p['callback_query_id']) ?? '';
      if (!openCallbacks.has(id))
        throw badRequest('query is too old and response timeout expired or query ID is invalid');
      openCallbacks.delete(id);
      callbackAnswers.push({ ...p });
      return true;
    },
    setMyCommands: (p) => {
      const commands = obj(p['commands']);
      if (!Array.isArray(commands)) throw badRequest('field "commands" must be an Array');
      if (commands.length > 100) throw badRequest('BOT_COMMANDS_TOO_MUCH');
      for (const c of commands as Array<{ command?: unknown; description?: unknown }>) {
        const cmd = String(c.command ?? '');
        if (!/^[a-z0-9_]{1,32}$/.test(cmd.toLowerCase())) throw badRequest('BOT_COMMAND_INVALID');
        const desc = String(c.description ?? '');
        if (desc.length < 1 || desc.length > 256) throw badRequest('BOT_COMMAND_DESCRIPTION_INVALID');
      }
      myCommands.set(scopeKey(p), commands);
      return true;
    },
    getMyCommands: (p) => myCommands.get(scopeKey(p)) ?? [],
    deleteMyCommands: (p) => {
      myCommands.delete(scopeKey(p));
      return true;
    },
  };

  function scopeKey(p: Record<string, unknown>): string {
    const scope = obj(p['scope']) as { type?: string } | undefined;
    return `${scope?.type ?? 'default'}|${str(p['language_code']) ?? ''}`;
  }

  // ---- long polling ----
  function available(offset: number, limit: number): Update[] {
    return queue.filter((u) => u.update_id >= offset).slice(0, limit);
  }

  function confirm(offset: number): void {
    if (offset > 0) {
      for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.update_id < offset) queue.splice(i, 1);
    } else if (offset < 0) {
      // A negative offset keeps only the last |offset| updates and forgets the rest.
      queue.splice(0, Math.max(0, queue.length + offset));
    }
  }

  function getUpdates(
    p: Record<string, unknown>,
    res: http.ServerResponse,
    respond: (status: number, body: unknown) => void,
  ): void {
    if (webhook !== undefined) {
      throw new ApiError(
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
      );
    }
    const offset = int(p['offset']) ?? 0;
    const limit = Math.min(Math.max(int(p['limit']) ?? 100, 1), 100);
    const timeoutMs = Math.min(Math.max(int(p['timeout']) ?? 0, 0) * 1000, maxPollMs);
    confirm(offset);
    const effectiveOffset = Math.max(offset, 0);
    // A second poller kicks out the first one, which is what two bot instances see in production.
    if (poll) poll.conflict();
    const ready = available(effectiveOffset, limit);
    if (ready.length > 0 || timeoutMs === 0) {
      respond(200, { ok: true, result: ready });
      return;
    }

    let done = false;
    const waiter: PollWaiter = {
      res,
      params: p,
      limit,
      offset: effectiveOffset,
      timer: setTimeout(() => waiter.finish([]), timeoutMs),
      finish: (updates) => {
        if (done) return;
        done = true;
        clearTimeout(waiter.timer);
        if (poll === waiter) poll = undefined;
        respond(200, { ok: true, result: updates });
      },
      conflict: () => {
        if (done) return;
        done = true;
        clearTimeout(waiter.timer);
        if (poll === waiter) poll = undefined;
        respond(409, { ok: false, error_code: 409, description: DEFAULT_DESCRIPTIONS[409] });
      },
    };
    // telegraf aborts the fetch on bot.stop(): forget the waiter so nothing is written to a dead socket.
    res.on('close', () => {
      if (done) return;
      done = true;
      clearTimeout(waiter.timer);
      if (poll === waiter) poll = undefined;
      respond(0, undefined);
    });
    poll = waiter;
    for (const w of pollWatchers.splice(0)) w();
  }

  function wakePoller(): void {
    if (!poll) return;
    const ready = available(poll.offset, poll.limit);
    if (ready.length > 0) poll.finish(ready);
  }

  // ---- HTTP ----
  async function readParams(req: http.IncomingMessage, url: URL): Promise<Record<string, unknown>> {
    const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    if (raw.length === 0) return params;
    const ct = String(req.headers['content-type'] ?? '').toLowerCase();
    if (ct.startsWith('application/json')) {
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw badRequest("can't parse JSON object");
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest("can't parse JSON object");
      return { ...params, ...(body as Record<string, unknown>) };
    }
    if (ct.startsWith('application/x-www-form-urlencoded') || ct.startsWith('multipart/form-data')) {
      // undici's Response parses both encodings, so no hand-written multipart parser is needed.
      const form = await new Response(raw, { headers: { 'content-type': ct } }).formData();
      for (const [k, v] of form.entries()) {
        // Uploaded files keep their bytes: tests decode the charts the bot sends.
        params[k] =
          typeof v === 'string'
            ? v
            : { filename: v.name, size: v.size, type: v.type, bytes: Buffer.from(await v.arrayBuffer()) };
      }
      return params;
    }
    throw badRequest('unsupported content type');
  }

  function record(c: CallRecord): void {
    calls.push(c);
    const index = calls.length - 1;
    for (const w of callWaiters) {
      if (index >= w.after && w.method === c.method && w.predicate(c)) {
        callWaiters.delete(w);
        w.resolve(c);
      }
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const at = now();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    let method = m?.[2] ?? url.pathname;
    let params: Record<string, unknown> = {};
    let answered = false;
    const respond = (status: number, body: unknown, contentType = 'application/json'): void => {
      if (answered) return;
      answered = true;
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      if (status !== 0 && !res.destroyed && !res.headersSent) {
        res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
        res.end(text);
      }
      record({
        method,
        params,
        at,
        respondedAt: now(),
        status: res.destroyed && !res.writableFinished ? 0 : status,
        response: body,
      });
    };
    const respondError = (e: ApiError): void =>
      respond(e.status, {
        ok: false,
        error_code: e.status,
        description: e.description,
        ...(e.parameters ? { parameters: e.parameters } : {}),
      });

    try {
      if (!m) throw new ApiError(404, 'Not Found');
      if (m[1] !== token) throw new ApiError(401, 'Unauthorized');
      method = CANONICAL.get(m[2]!.toLowerCase()) ?? m[2]!;
      params = await readParams(req, url);
      const handler = handlers[method];
      if (!handler && method !== 'getUpdates') throw new ApiError(404, 'Not Found: method not found');

      const d = delays.get(method);
      if (d && d.phase === 'before') await sleep(d.ms);
      if (closed || res.destroyed) {
        respond(0, undefined);
        return;
      }

      const queued = failures.get(method);
      const f = queued?.[0];
      if (f) {
        if (--f.left <= 0) queued.shift();
        const failure = f.failure;
        if (failure.status === 'reset') {
          res.destroy();
          respond(0, undefined);
          return;
        }
        if (failure.status === 429) {
          throw new ApiError(429, failure.description ?? `Too Many Requests: retry after ${failure.retryAfter}`, {
            retry_after: failure.retryAfter,
          });
        }
        if (failure.status === 502 || failure.status === 504) {
          // The real front end answers gateway errors with an nginx HTML page, not the JSON envelope.
          const title = failure.status === 502 ? '502 Bad Gateway' : '504 Gateway Time-out';
          respond(
            failure.status,
            `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n`,
            'text/html',
          );
          return;
        }
        const parameters = 'parameters' in failure ? failure.parameters : undefined;
        throw new ApiError(
          failure.status,
          failure.description ?? DEFAULT_DESCRIPTIONS[failure.status] ?? 'Error',
          parameters,
        );
      }

      if (method === 'getUpdates') {
        const delayAfter = d && d.phase === 'after' ? d.ms : 0;
        if (delayAfter > 0) await sleep(delayAfter);
        getUpdates(params, res, (status, body) => respond(status, body));
        return;
      }
      const result = handler!(params, res);
      if (d && d.phase === 'after') await sleep(d.ms);
      respond(200, { ok: true, result });
    } catch (err) {
      if (err instanceof ApiError) respondError(err);
      else
        respond(500, { ok: false, error_code: 500, description: `Internal Server Error: ${(err as Error).message}` });
    }
  }

  const server = http.createServer((req, res) => {
    void handle(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const fake: FakeTelegram = {
    apiRoot: `http://127.0.0.1:${port}/`,
    token,
    port,
    calls,
    botUser,
    callbackAnswers,
    fail(method, failure, times = 1) {
      const list = failures.get(method) ?? [];
      list.push({ failure, left: times });
      failures.set(method, list);
    },
    delay(method, ms, o = {}) {
      if (ms <= 0) delays.delete(method);
      else delays.set(method, { ms, phase: o.phase ?? 'before' });
    },
    pushUpdate(update) {
      const u = { ...update, update_id: update.update_id ?? nextUpdateId++ } as Update;
      if (u.update_id >= nextUpdateId) nextUpdateId = u.update_id + 1;
      queue.push(u);
      queue.sort((a, b) => a.update_id - b.update_id);
      wakePoller();
      return u;
    },
    pushCommand(chatId, userId, text, o = {}) {
      const key = String(chatId);
      const chat = chatFor(chatId, o.chatType, o.title);
      const from = userFor(userId, o);
      const commandLength = text.split(/\s/, 1)[0]!.length;
      const base: Omit<StoredMessage, 'message'> = {
        chatId: Number(chatId),
        messageId: allocMessageId(key),
        fromBot: false,
        text,
        rawText: text,
        entities: [],
        ...(o.messageThreadId !== undefined ? { messageThreadId: o.messageThreadId } : {}),
        date: nowSeconds(),
        history: [],
        deleted: false,
      };
      const message = toMessage(base, chat, from) as unknown as Record<string, unknown>;
      if (text.startsWith('/')) message['entities'] = [{ type: 'bot_command', offset: 0, length: commandLength }];
      if (o.messageThreadId !== undefined) message['is_topic_message'] = true;
      chatStore(key).set(base.messageId, { ...base, message: message as unknown as Message });
      return fake.pushUpdate({ message } as unknown as Omit<Update, 'update_id'>);
    },
    pushCallback(chatId, userId, data, messageId) {
      const key = String(chatId);
      const stored = store.get(key)?.get(messageId);
      const message =
        stored?.message ??
        ({
          message_id: messageId,
          from: botUser,
          chat: chatFor(chatId),
          date: nowSeconds(),
          text: '',
        } as unknown as Message);
      const id = `${botId}${String(nextCallbackId++).padStart(6, '0')}`;
      openCallbacks.add(id);
      const callback_query = {
        id,
        from: userFor(userId),
        message,
        chat_instance: `-${Math.abs(Number(chatId))}77`,
        data,
      };
      return fake.pushUpdate({ callback_query } as unknown as Omit<Update, 'update_id'>) as Update & {
        callback_query: { id: string };
      };
    },
    waitForCall(method, predicate = () => true, timeoutMs = 2000, o = {}) {
      const after = o.after ?? 0;
      const hit = calls.find((c, i) => i >= after && c.method === method && predicate(c));
      if (hit) return Promise.resolve(hit);
      return new Promise<CallRecord>((resolve, reject) => {
        const w: CallWaiter = {
          method,
          predicate,
          after,
          resolve: (c) => {
            clearTimeout(t);
            resolve(c);
          },
        };
        const t = setTimeout(() => {
          callWaiters.delete(w);
          const recent = calls
            .slice(-10)
            .map((c) => `${c.method}→${c.status}`)
            .join(', ');
          reject(
            new Error(`fake-telegram: no ${method} call matched within ${timeoutMs} ms (recent: ${recent || 'none'})`),
          );
        }, timeoutMs);
        callWaiters.add(w);
      });
    },
    waitForPolling(timeoutMs = 2000) {
      if (poll) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const w = (): void => {
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(() => {
          const i = pollWatchers.indexOf(w);
          if (i >= 0) pollWatchers.splice(i, 1);
          reject(new Error(`fake-telegram: no getUpdates long poll held within ${timeoutMs} ms`));
        }, timeoutMs);
        pollWatchers.push(w);
      });
    },
    heldPoll: () => (poll ? { offset: poll.offset, limit: poll.limit, params: poll.params } : undefined),
    mark: () => calls.length,
    callsOf: (method) => calls.filter((c) => c.method === method),
    messages(chatId, o = {}) {
      const m = store.get(chatKeyOf(String(chatId)) ?? String(chatId));
      if (!m) return [];
      return [...m.values()]
        .filter((s) => (o.includeUser || s.fromBot) && (o.includeDeleted || !s.deleted))
        .sort((a, b) => a.messageId - b.messageId);
    },
    commands: (key = 'default|') => myCommands.get(key),
    pendingUpdates: () => [...queue],
    addChat(chatId, type) {
      knownChats?.add(String(chatId));
      chatFor(chatId, type);
    },
    setFloodControl(limits) {
      flood = limits === false ? undefined : { ...TELEGRAM_FLOOD_LIMITS, ...limits };
    },
    block(chatId, isBlocked = true) {
      if (isBlocked) blocked.add(String(chatId));
      else blocked.delete(String(chatId));
    },
    webhookUrl: () => webhook,
    async close() {
      if (closed) return;
      closed = true;
      // Answer a held poll so a still-running bot sees an empty batch rather than a reset socket.
      poll?.finish([]);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
      });
    },
  };
  return fake;
}

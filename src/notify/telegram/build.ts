import type { Config } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import type { StateStore } from '../../store/store.js';
import { TelegramNotifier } from './notifier.js';

export type TelegramConfig = NonNullable<Config['notifiers']['telegram']>;

/** telegraf resolves `./bot<token>/<method>` against the root: a root with a path must end in '/'. */
export function normalizeApiRoot(root: string): string {
  const u = new URL(root);
  if (u.pathname !== '/' && !u.pathname.endsWith('/')) u.pathname += '/';
  return u.toString();
}

export function createTelegramNotifier(
  tg: TelegramConfig,
  deps: { store: StateStore; logger: Logger; now?: () => number },
): TelegramNotifier {
  return new TelegramNotifier({
    token: tg.token,
    apiRoot: normalizeApiRoot(tg.api_root),
    chats: tg.chats.map((c) => ({ ...c })),
    store: deps.store,
    logger: deps.logger.child({ notifier: 'telegram' }),
    ...(deps.now ? { now: deps.now } : {}),
    pacing: {
      perChatIntervalMs: tg.pacing.per_chat_interval,
      groupPerMinute: tg.pacing.group_per_minute,
      globalPerSecond: tg.pacing.global_per_second,
    },
    coalesceAfter: tg.pacing.coalesce_after,
    maxSampleLines: tg.max_sample_lines,
    maxSampleChars: tg.max_sample_chars,
  });
}

/** Settings a running notifier and bot cannot take over: changing them needs a restart. */
const RESTART_KEYS = ['token', 'api_root', 'mode', 'webhook', 'commands', 'pacing'] as const;

/**
 * Why a reload cannot apply the new Telegram settings to the running notifier and bot (empty: it
 * can; chats, allowed_users, stale_update_age and sample limits are applied live). Pure.
 */
export function telegramReloadProblems(
  before: TelegramConfig | undefined,
  after: TelegramConfig | undefined,
): string[] {
  if (!before && !after) return [];
  if (!before || !after)
    return [`notifiers.telegram was ${before ? 'removed' : 'added'}: restart the service to apply it`];
  return RESTART_KEYS.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])).map(
    (k) => `notifiers.telegram.${k} changed: restart the service to apply it (a reload cannot)`,
  );
}

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

export function createTelegramNotifier(tg: TelegramConfig, deps: { store: StateStore; logger: Logger; now?: () => number }): TelegramNotifier {
  return new TelegramNotifier({
    token: tg.token,
    apiRoot: normalizeApiRoot(tg.api_root),
    chats: tg.chats.map((c) => ({ ...c })),
    store: deps.store,
    logger: deps.logger.child({ notifier: 'telegram' }),
    ...(deps.now ? { now: deps.now } : {}),
    pacing: { perChatIntervalMs: tg.pacing.per_chat_interval, groupPerMinute: tg.pacing.group_per_minute, globalPerSecond: tg.pacing.global_per_second },
    coalesceAfter: tg.pacing.coalesce_after,
    maxSampleLines: tg.max_sample_lines,
    maxSampleChars: tg.max_sample_chars,
  });
}

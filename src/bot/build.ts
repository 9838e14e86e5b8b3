import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Notifier } from '../notify/notifier.js';
import { normalizeApiRoot } from '../notify/telegram/build.js';
import { TelegramNotifier } from '../notify/telegram/notifier.js';
import type { Rule } from '../rules/rule-type.js';
import type { Sources } from '../sources/sources.js';
import { buildStatus } from '../status/snapshot.js';
import type { StateStore } from '../store/store.js';
import { runAndStore } from '../drill/run.js';
import { authPolicy } from './auth.js';
import { TelegramBot } from './bot.js';

/**
 * The bot for a config, or undefined when Telegram is not configured or `commands: false`.
 * Its polling problems (409) are reported through the Telegram notifier's health (/readyz).
 */
export function createTelegramBot(o: {
  config: () => Config;
  store: StateStore;
  sources: Sources;
  rules: () => readonly Rule[];
  notifiers: readonly Notifier[];
  logger: Logger;
  now: () => number;
}): TelegramBot | undefined {
  const tg = o.config().notifiers.telegram;
  if (!tg?.commands) return undefined;
  const notifier = o.notifiers.find((n): n is TelegramNotifier => n instanceof TelegramNotifier);
  const bot: TelegramBot = new TelegramBot({
    token: tg.token,
    apiRoot: normalizeApiRoot(tg.api_root),
    mode: tg.mode,
    ...(tg.webhook ? { webhook: tg.webhook } : {}),
    // Read from the config at every update: a reload's chats and allowed_users apply at once.
    auth: () => {
      const now = o.config().notifiers.telegram ?? tg;
      return authPolicy(
        now.chats.map((c) => c.id),
        now.allowed_users,
      );
    },
    staleAfterMs: () => (o.config().notifiers.telegram ?? tg).stale_update_age,
    logger: o.logger,
    ...(notifier ? { onProblem: (p: string | undefined) => notifier.setBotProblem(p) } : {}),
    deps: {
      store: o.store,
      config: o.config,
      rules: () => o.rules().map((r) => ({ id: r.id, type: r.type, severity: r.severity, enabled: r.enabled })),
      status: () => buildStatus(o.config(), o.sources, o.store, o.now()),
      now: o.now,
      logger: o.logger,
      chats: () => (o.config().notifiers.telegram ?? tg).chats,
      announce: (route, html) => bot.announce(route, html),
      runDrill: (req) => runAndStore({ config: o.config(), sources: o.sources, store: o.store, logger: o.logger }, req),
    },
  });
  return bot;
}

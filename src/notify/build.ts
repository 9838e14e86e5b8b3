import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { StateStore } from '../store/store.js';
import { createConsoleNotifier } from './console.js';
import type { Notifier } from './notifier.js';
import { createTelegramNotifier } from './telegram/build.js';

/** The notifiers a config asks for. Console is the embedded default when Telegram is not configured. */
export function buildNotifiers(
  config: Config,
  logger: Logger,
  deps: { store?: StateStore; now?: () => number } = {},
): Notifier[] {
  const notifiers: Notifier[] = [];
  const consoleOn = config.notifiers.console?.enabled ?? !config.notifiers.telegram;
  if (consoleOn) notifiers.push(createConsoleNotifier());
  const tg = config.notifiers.telegram;
  if (tg) {
    if (!deps.store) throw new Error('the telegram notifier needs the state store (resolve threading, buttons)');
    notifiers.push(createTelegramNotifier(tg, { store: deps.store, logger, ...(deps.now ? { now: deps.now } : {}) }));
  }
  return notifiers;
}

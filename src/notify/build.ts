import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { createConsoleNotifier } from './console.js';
import type { Notifier } from './notifier.js';

/** The notifiers a config asks for. Console is the embedded default when Telegram is not configured. */
export function buildNotifiers(config: Config, _logger: Logger): Notifier[] {
  const notifiers: Notifier[] = [];
  const consoleOn = config.notifiers.console?.enabled ?? !config.notifiers.telegram;
  if (consoleOn) notifiers.push(createConsoleNotifier());
  return notifiers;
}

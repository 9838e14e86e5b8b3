import pino, { type Logger } from 'pino';

/** Keys whose values never reach a log line, wherever they sit in the object. */
export const REDACTED_PATHS = [
  'token', '*.token', '*.*.token', 'password', '*.password', '*.*.password', 'api_key', '*.api_key', '*.*.api_key',
  'dsn', '*.dsn', '*.*.dsn', 'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
];

export function createLogger(opts: { level?: string; pretty?: boolean } = {}): Logger {
  const pretty = opts.pretty ?? process.stdout.isTTY;
  return pino({
    level: opts.level ?? process.env['LOG_LEVEL'] ?? 'info',
    base: { service: 'odoo-ha-watch' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}

/** A logger for tests and library callers that did not inject one. */
export const silentLogger: Logger = pino({ level: 'silent' });

export type { Logger };

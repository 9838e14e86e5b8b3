import pino, { type Logger } from 'pino';
import { escapeControl } from './util/text.js';

/** Keys whose values never reach a log line, wherever they sit in the object. */
export const REDACTED_PATHS = [
  'token', '*.token', '*.*.token', 'password', '*.password', '*.*.password', 'api_key', '*.api_key', '*.*.api_key',
  'dsn', '*.dsn', '*.*.dsn', 'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
];

/**
 * Log fields carry text from watched systems (labels from log lines, error reasons, bodies).
 * JSON escaping protects the JSON stream, but pino-pretty and `jq -r` print the decoded value:
 * an ESC sequence or CR there would rewrite the operator's terminal. Plain strings, arrays and
 * objects are walked (bounded depth); anything else (Error, Buffer…) is left to its serializer.
 */
export function escapeLogFields(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return escapeControl(v);
  if (depth >= 6 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => escapeLogFields(x, depth + 1));
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, escapeLogFields(x, depth + 1)]));
}

export function createLogger(opts: { level?: string; pretty?: boolean; destination?: pino.DestinationStream } = {}): Logger {
  const pretty = opts.destination ? false : opts.pretty ?? process.stdout.isTTY;
  const options: pino.LoggerOptions = {
    level: opts.level ?? process.env['LOG_LEVEL'] ?? 'info',
    base: { service: 'odoo-ha-watch' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    formatters: { log: (o) => escapeLogFields(o) as Record<string, unknown> },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger for tests and library callers that did not inject one. */
export const silentLogger: Logger = pino({ level: 'silent' });

export type { Logger };

import pino, { type Logger } from 'pino';
import { escapeControl } from './util/text.js';

/** Keys whose values never reach a log line, wherever they sit in the object. */
export const REDACTED_PATHS = [
  'token',
  '*.token',
  '*.*.token',
  'password',
  '*.password',
  '*.*.password',
  'api_key',
  '*.api_key',
  '*.*.api_key',
  'dsn',
  '*.dsn',
  '*.*.dsn',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
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

export type LogFormat = 'auto' | 'human' | 'json';

/**
 * Human output (one short line per log record, plus notifications and a status line) when a person
 * watches a terminal; JSON when stdout goes to a file, journald or a collector. $LOG_FORMAT wins.
 */
export function resolveLogFormat(
  configured: LogFormat = 'auto',
  env: string | undefined = process.env['LOG_FORMAT'],
  isTTY = process.stdout.isTTY === true,
): 'human' | 'json' {
  const want = env === 'human' || env === 'json' ? env : configured;
  return want === 'auto' ? (isTTY ? 'human' : 'json') : want;
}

export function createLogger(
  opts: { level?: string; pretty?: boolean; destination?: pino.DestinationStream } = {},
): Logger {
  const pretty = opts.destination ? false : (opts.pretty ?? resolveLogFormat() === 'human');
  const options: pino.LoggerOptions = {
    level: opts.level ?? process.env['LOG_LEVEL'] ?? 'info',
    base: { service: 'odoo-ha-watch' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    formatters: { log: (o) => escapeLogFields(o) as Record<string, unknown> },
    // Human: one line per record on stderr (stdout carries notifications and the status line).
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: {
              colorize: true,
              singleLine: true,
              translateTime: 'SYS:HH:MM:ss',
              ignore: 'pid,hostname,service',
              errorLikeObjectKeys: [],
              destination: 2,
            },
          },
        }
      : {}),
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger for tests and library callers that did not inject one. */
export const silentLogger: Logger = pino({ level: 'silent' });

export type { Logger };

import { TelegramError } from 'telegraf';

/** What a failed Bot API call means for delivery. */
export interface ApiFailure {
  retryable: boolean;
  /** 429: exactly parameters.retry_after, in ms. */
  retryAfterMs?: number;
  /** HTTP-ish code: the Bot API error_code, or 0 for network errors. */
  code: number;
  /** Safe to log: the token is never in it. */
  message: string;
  /** 400 because our HTML was refused: worth one plain-text resend. */
  parseError: boolean;
  /** 400 "message is too long": Telegram counted more than we did; worth re-splitting, not giving up. */
  tooLong?: boolean;
}

/** Removes the bot token from any text (URLs in network errors carry it). */
export function redact(text: string, token: string): string {
  if (!token) return text;
  let out = text.split(token).join('<token>');
  const id = token.split(':')[1];
  if (id && id.length >= 8) out = out.split(id).join('<token>');
  return out;
}

export function classifyError(err: unknown, token: string): ApiFailure {
  if (err instanceof TelegramError) {
    const code = err.code;
    const description = redact(String(err.description ?? err.message), token);
    if (code === 429) {
      const after = Number(err.parameters?.retry_after);
      return {
        retryable: true,
        retryAfterMs: Number.isFinite(after) && after >= 0 ? after * 1000 : 5000,
        code,
        message: `429 ${description}`,
        parseError: false,
      };
    }
    if (code >= 500) return { retryable: true, code, message: `${code} ${description}`, parseError: false };
    const migrated = err.parameters?.migrate_to_chat_id;
    const hint = migrated !== undefined ? ` (the group became a supergroup: set the chat id to ${migrated})` : '';
    return {
      retryable: false,
      code,
      message: `${code} ${description}${hint}`,
      parseError: code === 400 && /can't parse entities/i.test(description),
      ...(code === 400 && /message is too long/i.test(description) ? { tooLong: true } : {}),
    };
  }
  const e = err as { name?: string; message?: string; code?: string };
  // Network (FetchError, ECONNRESET, ECONNREFUSED), aborts (send timeout), anything unexpected: retry with backoff.
  return {
    retryable: true,
    code: 0,
    message: redact(`${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`, token),
    parseError: false,
  };
}

import { parseDuration, formatDuration } from '../util/duration.js';

/** Bounds for /silence: shorter is a typo, longer should be a rule change. */
export const SILENCE_MIN_MS = 60_000;
export const SILENCE_MAX_MS = 30 * 86_400_000;
export const MAX_REASON = 200;

export const ALERT_ID_RE = /^[0-9a-f]{6,16}$/;
export const RULE_ID_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
export const SILENCE_ID_RE = /^[0-9a-z-]{4,40}$/;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** Splits command arguments on whitespace; the first `keep` are separate, the rest is one string. */
export function splitArgs(text: string, keep: number): string[] {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length <= keep) return words;
  return [...words.slice(0, keep), words.slice(keep).join(' ')];
}

export function parseSilenceDuration(raw: string | undefined): Parsed<number> {
  if (!raw) return { ok: false, error: 'missing duration' };
  const ms = parseDuration(raw);
  if (ms === undefined) return { ok: false, error: `"${raw}" is not a duration (e.g. 30m, 2h, 1d)` };
  if (ms < SILENCE_MIN_MS || ms > SILENCE_MAX_MS)
    return {
      ok: false,
      error: `duration must be between ${formatDuration(SILENCE_MIN_MS)} and ${formatDuration(SILENCE_MAX_MS)}`,
    };
  return { ok: true, value: ms };
}

export function parseCount(raw: string | undefined, def: number, max: number): Parsed<number> {
  if (raw === undefined || raw === '') return { ok: true, value: def };
  if (!/^\d{1,4}$/.test(raw)) return { ok: false, error: `"${raw}" is not a number` };
  const n = Number(raw);
  if (n < 1 || n > max) return { ok: false, error: `n must be between 1 and ${max}` };
  return { ok: true, value: n };
}

/** Text from a user, made safe to store and echo: control characters dropped, length bounded. */
export function cleanReason(raw: string | undefined): string {
  return (raw ?? '')
    .replace(/[\u0000-\u001f\u007f]/g, ' ')
    .trim()
    .slice(0, MAX_REASON);
}

/**
 * Text from watched systems (log lines, HTTP bodies, Patroni/HAProxy output) on its way to a
 * human: cut without splitting a character, and made inert for terminals and log viewers.
 */

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** True when index i sits between a high and a low surrogate (cutting there leaves a lone surrogate). */
function splitsPair(text: string, i: number): boolean {
  if (i <= 0 || i >= text.length) return false;
  const hi = text.charCodeAt(i - 1);
  const lo = text.charCodeAt(i);
  return hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff;
}

/**
 * The largest cut index ≤ budget that falls on a grapheme boundary (so a flag, an emoji with a
 * skin tone or an accented letter stays whole), falling back to a code point boundary when one
 * grapheme alone is longer than the budget (zalgo text).
 */
function cutIndex(text: string, budget: number): number {
  // A boundary at `budget` depends only on what precedes it and the code point starting there,
  // so segmenting a short prefix is exact and keeps 200 kB lines cheap.
  const prefix = text.slice(0, budget + 2);
  let cut = 0;
  for (const { index } of segmenter.segment(prefix)) {
    if (index > budget) break;
    cut = index;
  }
  if (budget >= prefix.length) cut = prefix.length;
  if (cut > 0) return cut;
  return splitsPair(text, budget) ? budget - 1 : budget;
}

/**
 * Cuts `text` to at most `max` UTF-16 code units including `ellipsis`; never splits a surrogate
 * pair (a lone surrogate breaks JSON consumers such as the Telegram API) nor, where it fits, a
 * grapheme. Text already short enough is returned unchanged.
 */
export function truncate(text: string, max: number, ellipsis = '…'): string {
  const limit = Math.max(0, Math.floor(max));
  if (text.length <= limit) return text;
  if (ellipsis.length >= limit) return truncate(ellipsis, limit, '');
  const budget = limit - ellipsis.length;
  return `${text.slice(0, cutIndex(text, budget))}${ellipsis}`;
}

/** Escape for one control character: the familiar short forms, else \xNN. */
function escapeOne(ch: string): string {
  switch (ch) {
    case '\r':
      return '\\r';
    case '\0':
      return '\\0';
    case '\b':
      return '\\b';
    case '\f':
      return '\\f';
    case '\v':
      return '\\v';
    default:
      return `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
  }
}

// C0 except \t (0x09) and \n (0x0a), DEL, and C1: ESC sequences can rewrite a terminal, CR can
// overwrite a line, NUL truncates in some viewers, BEL rings.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Replaces C0/C1 control characters except \n and \t with visible escapes (\x1b, \r, \0, …). */
export function escapeControl(text: string): string {
  return text.replace(CONTROL_RE, escapeOne);
}

/** External text shown to a human in a bounded space: controls made visible, then cut safely. */
export function excerpt(text: string, max: number, ellipsis = '…'): string {
  return truncate(escapeControl(text), max, ellipsis);
}

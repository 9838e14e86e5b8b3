/**
 * Telegram `parse_mode: "HTML"` helpers: escaping, visible length, and splitting a message on line
 * boundaries so that every part is valid HTML on its own (open tags are closed at the end of a part
 * and reopened at the start of the next; nothing is ever cut inside a tag or an entity).
 */

/** The Bot API's limit, in UTF-16 code units of the text after entity parsing. */
export const TELEGRAM_MAX_CHARS = 4096;

/** Escapes text for Telegram HTML: `&`, `<`, `>` always, `"` so values are safe in attributes too. */
export function escapeHtml(text: string): string {
  return wellFormed(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

type Token =
  | { kind: 'open'; raw: string; name: string }
  | { kind: 'close'; raw: string; name: string }
  /** One visible unit: a character (a surrogate pair counts 2), or an entity (counts 1). */
  | { kind: 'text'; raw: string; len: number; newline: boolean };

const ENTITY_RE = /^&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|lt;?|gt;?|amp;?|quot;?)/;

/** Tokenizes HTML this module (or `escapeHtml`) produced. Tags are taken whole; text unit by unit. */
function tokenize(html: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < html.length) {
    const c = html[i]!;
    if (c === '<') {
      const end = html.indexOf('>', i);
      if (end < 0) throw new Error(`unclosed tag at ${i}`);
      const raw = html.slice(i, end + 1);
      const closing = raw[1] === '/';
      const name = (/^<\/?([a-zA-Z-]*)/.exec(raw)?.[1] ?? '').toLowerCase();
      out.push({ kind: closing ? 'close' : 'open', raw, name });
      i = end + 1;
      continue;
    }
    if (c === '&') {
      const m = ENTITY_RE.exec(html.slice(i, i + 12));
      if (m) {
        out.push({ kind: 'text', raw: m[0], len: 1, newline: false });
        i += m[0].length;
        continue;
      }
    }
    const code = html.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < html.length) {
      out.push({ kind: 'text', raw: html.slice(i, i + 2), len: 2, newline: false });
      i += 2;
      continue;
    }
    out.push({ kind: 'text', raw: c, len: 1, newline: c === '\n' });
    i++;
  }
  return out;
}

/** Visible length as Telegram counts it (UTF-16 units after parsing; an entity counts once). */
export function visibleLength(html: string): number {
  let n = 0;
  for (const t of tokenize(html)) if (t.kind === 'text') n += t.len;
  return n;
}

/** Plain text of an HTML message (tags dropped, entities decoded): the fallback when HTML is refused. */
export function htmlToPlain(html: string): string {
  const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' };
  return tokenize(html)
    .filter((t) => t.kind === 'text')
    .map((t) => {
      if (!t.raw.startsWith('&') || t.raw.length === 1) return t.raw;
      const body = t.raw.slice(1).replace(/;$/, '');
      if (body.startsWith('#x') || body.startsWith('#X')) return String.fromCodePoint(parseInt(body.slice(2), 16));
      if (body.startsWith('#')) return String.fromCodePoint(Number(body.slice(1)));
      return named[body] ?? t.raw;
    })
    .join('');
}

const closers = (stack: Token[]): string =>
  stack
    .slice()
    .reverse()
    .map((t) => `</${(t as { name: string }).name}>`)
    .join('');
const openers = (stack: Token[]): string => stack.map((t) => t.raw).join('');

/**
 * Splits HTML into parts of at most `max` visible characters. Cuts at the last line break that
 * fits; a single line longer than `max` is cut between two visible units. Tags open at a cut are
 * closed at the end of the part and reopened at the start of the next one.
 */
export function splitHtml(html: string, max = TELEGRAM_MAX_CHARS): string[] {
  if (max < 1) throw new Error('max must be positive');
  const tokens = tokenize(html);
  if (tokens.reduce((n, t) => n + (t.kind === 'text' ? t.len : 0), 0) <= max) return [html];
  const parts: string[] = [];
  const stack: Token[] = [];
  let body = '';
  let len = 0;
  /** The last line break in the current part: where to cut, and the state there. */
  let lastBreak: { bodyBefore: string; stack: Token[]; tokenIndex: number } | undefined;
  let prefix = '';

  const flush = (content: string, openAtEnd: Token[]) => {
    const part = prefix + content + closers(openAtEnd);
    if (htmlToPlain(part).trim() !== '') parts.push(part);
  };

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'open') {
      stack.push(t);
      body += t.raw;
      continue;
    }
    if (t.kind === 'close') {
      // `</>` or a matching end tag closes the innermost open tag.
      stack.pop();
      body += t.raw;
      continue;
    }
    if (len > 0 && len + t.len > max) {
      if (lastBreak) {
        // Cut at the line break; the break itself is dropped (the part boundary replaces it).
        flush(lastBreak.bodyBefore, lastBreak.stack);
        prefix = openers(lastBreak.stack);
        i = lastBreak.tokenIndex; // resume right after the break, rebuilding the stack from there
        stack.length = 0;
        stack.push(...lastBreak.stack);
        body = '';
        len = 0;
        lastBreak = undefined;
        continue;
      }
      flush(body, stack);
      prefix = openers(stack);
      body = '';
      len = 0;
    }
    if (t.newline) lastBreak = { bodyBefore: body, stack: stack.slice(), tokenIndex: i };
    body += t.raw;
    len += t.len;
  }
  const last = prefix + body + closers(stack);
  if (htmlToPlain(last).trim() !== '') parts.push(last);
  return parts;
}

/**
 * Lone surrogates (a watched system cut a string mid-character) become U+FFFD: JSON would carry
 * them as `\udXXX` escapes, which are not UTF-8, and Telegram refuses the whole message.
 */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * Cuts plain text to at most `max` UTF-16 units (the ellipsis included) without splitting a
 * surrogate pair. src/util/text.ts will own this once it lands on main; until then it lives here.
 */
export function truncateText(text: string, max: number, ellipsis = '…'): string {
  if (text.length <= max) return text;
  let cut = Math.max(0, max - ellipsis.length);
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${text.slice(0, cut)}${ellipsis}`;
}

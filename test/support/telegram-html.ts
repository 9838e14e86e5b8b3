/**
 * Telegram Bot API `parse_mode: "HTML"` rules, as implemented by the server (tdlib `parse_html`).
 *
 * Behaviour copied on purpose, because it differs from "HTML" as browsers know it:
 * - A `<` that does not start a supported tag is an error, even `a < b` (it reads as an empty tag name).
 * - `&` that does not start a supported entity is literal text, not an error (`a & b`, `&nbsp;` are fine);
 *   only `&lt; &gt; &amp; &quot;` and numeric references are decoded, and the trailing `;` is optional.
 * - `</>` closes whatever tag is open; other end tags must match the innermost open tag.
 * - `<span>` is allowed only as `<span class="tg-spoiler">`.
 * - Lengths are in UTF-16 code units of the text after parsing (an entity counts once).
 */

export type TelegramEntityType =
  | 'bold'
  | 'italic'
  | 'underline'
  | 'strikethrough'
  | 'spoiler'
  | 'text_link'
  | 'code'
  | 'pre'
  | 'blockquote'
  | 'expandable_blockquote'
  | 'custom_emoji';

export interface TelegramEntity {
  type: TelegramEntityType;
  offset: number;
  length: number;
  url?: string;
  language?: string;
  custom_emoji_id?: string;
}

export type TelegramHtmlResult =
  | { ok: true; text: string; length: number; entities: TelegramEntity[] }
  | { ok: false; error: string };

/** Thrown by {@link telegramHtmlLength}; `message` is the text Telegram puts after "can't parse entities: ". */
export class TelegramHtmlError extends Error {
  override name = 'TelegramHtmlError';
}

/** The Bot API's message limit, counted after entity parsing. */
export const TELEGRAM_MESSAGE_MAX = 4096;

const SUPPORTED_TAGS = new Set([
  'a',
  'b',
  'strong',
  'i',
  'em',
  's',
  'strike',
  'del',
  'u',
  'ins',
  'tg-spoiler',
  'tg-emoji',
  'span',
  'pre',
  'code',
  'blockquote',
]);

const TAG_ENTITY: Record<string, TelegramEntityType> = {
  b: 'bold',
  strong: 'bold',
  i: 'italic',
  em: 'italic',
  u: 'underline',
  ins: 'underline',
  s: 'strikethrough',
  strike: 'strikethrough',
  del: 'strikethrough',
  'tg-spoiler': 'spoiler',
  span: 'spoiler',
  a: 'text_link',
  code: 'code',
  pre: 'pre',
  blockquote: 'blockquote',
  'tg-emoji': 'custom_emoji',
};

const isSpace = (c: string | undefined): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
const isAlpha = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z]$/.test(c);
const isNameChar = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z0-9.-]$/.test(c);

/** Decodes an entity at `pos` (which holds `&`); returns the code point and the index after it, or null. */
function decodeEntity(s: string, pos: number): { cp: number; end: number } | null {
  let end = pos + 1;
  let cp = 0;
  if (s[end] === '#') {
    end++;
    let digits = 0;
    if (s[end] === 'x' || s[end] === 'X') {
      end++;
      while (end < s.length && /^[0-9A-Fa-f]$/.test(s[end]!)) {
        cp = cp * 16 + parseInt(s[end]!, 16);
        end++;
        digits++;
      }
    } else {
      while (end < s.length && /^[0-9]$/.test(s[end]!)) {
        cp = cp * 10 + Number(s[end]);
        end++;
        digits++;
      }
    }
    // tdlib rejects references of 10+ characters and out-of-range code points, leaving the '&' literal.
    if (digits === 0 || cp === 0 || cp >= 0x10ffff || end - pos >= 10) return null;
  } else {
    while (isAlpha(s[end])) end++;
    const name = s.slice(pos + 1, end);
    const named: Record<string, number> = { lt: 0x3c, gt: 0x3e, amp: 0x26, quot: 0x22 };
    const v = named[name];
    if (v === undefined) return null;
    cp = v;
  }
  if (s[end] === ';') end++;
  return { cp, end };
}

/** Telegram reports byte offsets into the UTF-8 encoding of the original text. */
const byteOffset = (s: string, pos: number): number => Buffer.byteLength(s.slice(0, pos), 'utf8');

interface OpenTag {
  name: string;
  arg: string;
  offset: number;
}

export function parseTelegramHtml(input: string): TelegramHtmlResult {
  let out = '';
  const entities: TelegramEntity[] = [];
  const open: OpenTag[] = [];
  const fail = (error: string): TelegramHtmlResult => ({ ok: false, error });

  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    if (c === '&') {
      const ent = decodeEntity(input, i);
      if (ent) {
        out += String.fromCodePoint(ent.cp);
        i = ent.end - 1;
        continue;
      }
    }
    if (c !== '<') {
      out += c;
      continue;
    }

    const begin = i++;
    if (input[i] !== '/') {
      let tagEnd = i;
      while (tagEnd < input.length && !isSpace(input[tagEnd]) && input[tagEnd] !== '>') tagEnd++;
      if (tagEnd >= input.length) return fail(`Unclosed start tag at byte offset ${byteOffset(input, begin)}`);
      const tag = input.slice(i, tagEnd).toLowerCase();
      if (!SUPPORTED_TAGS.has(tag)) {
        return fail(`Unsupported start tag "${tag}" at byte offset ${byteOffset(input, begin)}`);
      }
      let arg = '';
      while (input[tagEnd] !== '>') {
        while (isSpace(input[tagEnd])) tagEnd++;
        if (tagEnd >= input.length) return fail(`Unclosed start tag at byte offset ${byteOffset(input, begin)}`);
        if (input[tagEnd] === '>') break;
        const attrBegin = tagEnd;
        while (tagEnd < input.length && !isSpace(input[tagEnd]) && input[tagEnd] !== '=' && input[tagEnd] !== '>')
          tagEnd++;
        const attr = input.slice(attrBegin, tagEnd).toLowerCase();
        if (attr === '')
          return fail(`Empty attribute name in the tag "${tag}" at byte offset ${byteOffset(input, begin)}`);
        while (isSpace(input[tagEnd])) tagEnd++;
        if (tagEnd >= input.length) return fail(`Unclosed start tag at byte offset ${byteOffset(input, begin)}`);
        if (input[tagEnd] !== '=') {
          if (tag === 'blockquote' && attr === 'expandable') arg = 'expandable';
          continue;
        }
        tagEnd++;
        while (isSpace(input[tagEnd])) tagEnd++;
        if (tagEnd >= input.length) return fail(`Unclosed start tag at byte offset ${byteOffset(input, begin)}`);
        let value = '';
        const q = input[tagEnd];
        if (q !== '"' && q !== "'") {
          let vEnd = tagEnd;
          while (isNameChar(input[vEnd])) vEnd++;
          value = input.slice(tagEnd, vEnd).toLowerCase();
          if (!isSpace(input[vEnd]) && input[vEnd] !== '>') {
            return fail(`Unexpected end of name token at byte offset ${byteOffset(input, vEnd)}`);
          }
          tagEnd = vEnd;
        } else {
          let vEnd = tagEnd + 1;
          while (vEnd < input.length && input[vEnd] !== q) {
            if (input[vEnd] === '&') {
              const ent = decodeEntity(input, vEnd);
              if (ent) {
                value += String.fromCodePoint(ent.cp);
                vEnd = ent.end;
                continue;
              }
            }
            value += input[vEnd++];
          }
          if (input[vEnd] !== q)
            return fail(`Unclosed end of attribute value at byte offset ${byteOffset(input, tagEnd)}`);
          tagEnd = vEnd + 1;
        }
        if (tag === 'a' && attr === 'href') arg = value;
        else if (tag === 'code' && attr === 'class' && value.startsWith('language-')) arg = value.slice(9);
        else if (tag === 'span' && attr === 'class' && value.startsWith('tg-')) arg = value.slice(3);
        else if (tag === 'tg-emoji' && attr === 'emoji-id') arg = value;
        else if (tag === 'blockquote' && attr === 'expandable') arg = 'expandable';
      }
      if (tag === 'span' && arg !== 'spoiler') {
        return fail(`Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(input, begin)}`);
      }
      open.push({ name: tag, arg, offset: utf16Length(out) });
      if (open.length > 1000) return fail('Too many nested entities');
      i = tagEnd;
    } else {
      if (open.length === 0) return fail(`Unexpected end tag at byte offset ${byteOffset(input, begin)}`);
      i++;
      let tagEnd = i;
      while (tagEnd < input.length && !isSpace(input[tagEnd]) && input[tagEnd] !== '>') tagEnd++;
      const endName = input.slice(i, tagEnd).toLowerCase();
      while (isSpace(input[tagEnd])) tagEnd++;
      if (input[tagEnd] !== '>') return fail(`Unclosed end tag at byte offset ${byteOffset(input, begin)}`);
      const top = open.pop()!;
      if (endName !== '' && endName !== top.name) {
        return fail(
          `Unmatched end tag at byte offset ${byteOffset(input, begin)}, expected "</${top.name}>", found "</${endName}>"`,
        );
      }
      const length = utf16Length(out) - top.offset;
      const parent = open[open.length - 1];
      // <pre><code class="language-x"> is one pre entity carrying the language, not two entities.
      if (top.name === 'code' && top.arg && parent?.name === 'pre') parent.arg = top.arg;
      else if (length > 0) entities.push(toEntity(top, length));
      i = tagEnd;
    }
  }
  if (open.length > 0) return fail(`Can't find end tag corresponding to start tag "${open[open.length - 1]!.name}"`);
  entities.sort((a, b) => a.offset - b.offset || b.length - a.length);
  return { ok: true, text: out, length: utf16Length(out), entities };
}

function toEntity(tag: OpenTag, length: number): TelegramEntity {
  const base = { type: TAG_ENTITY[tag.name]!, offset: tag.offset, length };
  if (tag.name === 'a') return { ...base, url: tag.arg };
  if (tag.name === 'pre' && tag.arg) return { ...base, language: tag.arg };
  if (tag.name === 'blockquote' && tag.arg === 'expandable') return { ...base, type: 'expandable_blockquote' };
  if (tag.name === 'tg-emoji') return { ...base, custom_emoji_id: tag.arg };
  return base;
}

/** JS strings are UTF-16 already, so `.length` is the count Telegram uses. */
export const utf16Length = (s: string): number => s.length;

/** `null` when Telegram would accept the text with parse_mode HTML, otherwise the parser's complaint. */
export function validateTelegramHtml(text: string): string | null {
  const r = parseTelegramHtml(text);
  return r.ok ? null : r.error;
}

/** Visible length (UTF-16 units after parsing) as Telegram counts it against {@link TELEGRAM_MESSAGE_MAX}. */
export function telegramHtmlLength(text: string): number {
  const r = parseTelegramHtml(text);
  if (!r.ok) throw new TelegramHtmlError(r.error);
  return r.length;
}

import { splitHtml, TELEGRAM_MAX_CHARS, visibleLength } from '../notify/telegram/html.js';

/**
 * Keeps a reply to one message: lines after the limit are counted, not sent. Linear in what is
 * shown, not in what exists: 5 000 alerts must not cost 5 000 renders of the message.
 */
export function fit(lines: string[], more: (n: number) => string = (n) => `…and ${n} more`): string {
  let used = 0;
  let keep = 0;
  for (; keep < lines.length; keep++) {
    used += visibleLength(lines[keep]!) + (keep > 0 ? 1 : 0);
    if (used > TELEGRAM_MAX_CHARS) break;
  }
  if (keep === lines.length) return lines.join('\n');
  for (; keep > 0; keep--) {
    const html = [...lines.slice(0, keep), more(lines.length - keep)].join('\n');
    if (visibleLength(html) <= TELEGRAM_MAX_CHARS) return html;
  }
  return splitHtml(lines.join('\n'))[0]!;
}

import { splitHtml } from '../notify/telegram/html.js';

/** Keeps a reply to one message: lines after the limit are counted, not sent. */
export function fit(lines: string[], more: (n: number) => string = (n) => `…and ${n} more`): string {
  const all = lines.join('\n');
  const parts = splitHtml(all);
  if (parts.length === 1) return all;
  for (let keep = lines.length - 1; keep > 0; keep--) {
    const html = [...lines.slice(0, keep), more(lines.length - keep)].join('\n');
    if (splitHtml(html).length === 1) return html;
  }
  return parts[0]!;
}

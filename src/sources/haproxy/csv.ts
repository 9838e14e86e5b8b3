/**
 * HAProxy stats CSV (`GET <stats uri>;csv` or Runtime API `show stat`). The first line is the
 * header (`# pxname,svname,...`): fields are read **by header name**, never by position, since
 * the list grows between versions.
 */
import { excerpt } from '../../util/text.js';

export class MalformedStats extends Error {}

export type StatsRow = Record<string, string>;

export function parseStatsCsv(text: string): StatsRow[] {
  const lines = text.split(/\r?\n/);
  const headerIdx = lines.findIndex((l) => l.startsWith('# '));
  if (headerIdx < 0) throw new MalformedStats(`no "# pxname,svname,..." header line: ${excerpt(text.trim(), 80) || '(empty)'}`);
  const header = lines[headerIdx]!.slice(2).split(',');
  if (header[0] !== 'pxname' || header[1] !== 'svname') throw new MalformedStats(`unexpected header: ${excerpt(lines[headerIdx]!, 60)}`);
  const rows: StatsRow[] = [];
  for (const line of lines.slice(headerIdx + 1)) {
    if (!line.trim() || line.startsWith('#')) continue;
    const cells = line.split(',');
    const row: StatsRow = {};
    header.forEach((h, i) => {
      if (h && h !== '-') row[h] = cells[i] ?? '';
    });
    rows.push(row);
  }
  return rows;
}

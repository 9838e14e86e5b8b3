import { parse } from 'csv-parse/sync';

/**
 * HAProxy stats CSV (`GET <stats uri>;csv` or Runtime API `show stat`). The first line is the
 * header (`# pxname,svname,...`): fields are read **by header name**, never by position, since
 * the list grows between versions. HAProxy quotes a field containing a comma (RFC 4180, e.g. a
 * check description or `info: "a, b"`), so rows go through a real CSV parser, not split(',').
 */
import { excerpt } from '../../util/text.js';

export class MalformedStats extends Error {}

export type StatsRow = Record<string, string>;

export function parseStatsCsv(text: string): StatsRow[] {
  const lines = text.split(/\r?\n/);
  const headerIdx = lines.findIndex((l) => l.startsWith('# '));
  if (headerIdx < 0)
    throw new MalformedStats(`no "# pxname,svname,..." header line: ${excerpt(text.trim(), 80) || '(empty)'}`);
  const header = lines[headerIdx]!.slice(2).split(',');
  if (header[0] !== 'pxname' || header[1] !== 'svname')
    throw new MalformedStats(`unexpected header: ${excerpt(lines[headerIdx]!, 60)}`);
  const body = lines
    .slice(headerIdx + 1)
    .filter((l) => !l.startsWith('#'))
    .join('\n');
  let cells: string[][];
  try {
    // Every line ends with a comma (one empty field more than the header): column counts vary.
    cells = parse(body, { relax_column_count: true, skip_empty_lines: true });
  } catch (e) {
    throw new MalformedStats(`stats CSV does not parse: ${(e as Error).message}`);
  }
  return cells.map((row) => {
    const out: StatsRow = {};
    header.forEach((h, i) => {
      if (h && h !== '-') out[h] = row[i] ?? '';
    });
    return out;
  });
}

// The slice of java.time the date processor needs here: a few pattern letters, IANA zones,
// and ES's default output format yyyy-MM-dd'T'HH:mm:ss.SSSXXX rendered in the processor's
// `timezone` (ES parses, then calls withZoneSameInstant(timezone)).
// Unsupported pattern letters throw instead of guessing.

// Zone texts Java's `z`/`zz` parser resolves. Java maps an abbreviation to a region and then
// applies that region's rules, so CET/CEST both mean the same region.
const ZONE_TEXT: Readonly<Record<string, string>> = {
  UTC: 'UTC',
  GMT: 'UTC',
  CET: 'Europe/Paris',
  CEST: 'Europe/Paris',
  EET: 'Europe/Athens',
  EEST: 'Europe/Athens',
  WET: 'Europe/Lisbon',
  WEST: 'Europe/Lisbon',
  MSK: 'Europe/Moscow',
};

type Token = { kind: 'field'; letter: string; width: number } | { kind: 'literal'; text: string };

function tokenizeJavaPattern(pattern: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === "'") {
      const end = pattern.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in date pattern ${pattern}`);
      out.push({ kind: 'literal', text: pattern.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (pattern[j] === c) j += 1;
      out.push({ kind: 'field', letter: c, width: j - i });
      i = j;
      continue;
    }
    out.push({ kind: 'literal', text: c });
    i += 1;
  }
  return out;
}

interface Parsed {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
  ms: number;
  zone?: string;
  offsetMin?: number;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function parseJavaDate(text: string, pattern: string): Parsed {
  if (pattern === 'ISO8601' || pattern === 'UNIX' || pattern === 'UNIX_MS' || pattern === 'TAI64N') {
    throw new Error(`date format ${pattern} is not emulated`);
  }
  const toks = tokenizeJavaPattern(pattern);
  let re = '^';
  const order: Token[] = [];
  for (const t of toks) {
    if (t.kind === 'literal') {
      re += escapeRe(t.text);
      continue;
    }
    const key = `${t.letter}${t.width}`;
    switch (t.letter) {
      case 'y':
        if (t.width !== 4) throw new Error(`date letter ${key} not emulated`);
        re += '(\\d{4})';
        break;
      case 'M':
      case 'd':
      case 'H':
      case 'm':
      case 's':
        if (t.width !== 2) throw new Error(`date letter ${key} not emulated`);
        re += '(\\d{2})';
        break;
      case 'S':
        if (t.width !== 3) throw new Error(`date letter ${key} not emulated`);
        re += '(\\d{3})';
        break;
      case 'z':
        if (t.width > 3) throw new Error(`date letter ${key} not emulated`);
        re += '([A-Z]{2,5})';
        break;
      case 'X':
        if (t.width !== 1) throw new Error(`date letter ${key} not emulated`);
        re += '(Z|[+-]\\d{2}(?::?\\d{2})?)';
        break;
      default:
        throw new Error(`date letter ${key} not emulated`);
    }
    order.push(t);
  }
  const m = new RegExp(`${re}$`).exec(text);
  if (!m) throw new Error(`failed to parse date field [${text}] with format [${pattern}]`);
  const p: Parsed = { y: 0, mo: 1, d: 1, h: 0, mi: 0, s: 0, ms: 0 };
  order.forEach((t, idx) => {
    const v = m[idx + 1]!;
    if (t.kind !== 'field') return;
    switch (t.letter) {
      case 'y':
        p.y = Number(v);
        break;
      case 'M':
        p.mo = Number(v);
        break;
      case 'd':
        p.d = Number(v);
        break;
      case 'H':
        p.h = Number(v);
        break;
      case 'm':
        p.mi = Number(v);
        break;
      case 's':
        p.s = Number(v);
        break;
      case 'S':
        p.ms = Number(v);
        break;
      case 'z': {
        const zone = ZONE_TEXT[v];
        if (!zone)
          throw new Error(`zone text ${v} is not in the emulator's table (java.time may or may not accept it)`);
        p.zone = zone;
        break;
      }
      case 'X': {
        if (v === 'Z') p.offsetMin = 0;
        else {
          const sign = v.startsWith('-') ? -1 : 1;
          const digits = v.slice(1).replace(':', '');
          p.offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0'));
        }
        break;
      }
    }
  });
  if (p.mo < 1 || p.mo > 12 || p.d < 1 || p.d > 31 || p.h > 23 || p.mi > 59 || p.s > 59) {
    throw new Error(`failed to parse date field [${text}]: field value out of range`);
  }
  const probe = new Date(Date.UTC(p.y, p.mo - 1, p.d));
  if (probe.getUTCDate() !== p.d) throw new Error(`failed to parse date field [${text}]: invalid date`);
  return p;
}

/** Offset of `zone` at `epochMs`, in minutes east of UTC. */
export function zoneOffsetMinutes(zone: string, epochMs: number): number {
  const fixed = parseFixedOffset(zone);
  if (fixed !== undefined) return fixed;
  const dtf = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const parts = Object.fromEntries(dtf.formatToParts(new Date(epochMs)).map((x) => [x.type, x.value]));
  const asUtc = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  return Math.round((asUtc - Math.floor(epochMs / 1000) * 1000) / 60000);
}

function parseFixedOffset(zone: string): number | undefined {
  if (zone === 'Z' || zone === 'UTC') return 0;
  const m = /^([+-])(\d{2})(?::?(\d{2}))?$/.exec(zone);
  if (!m) return undefined;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? '0'));
}

/** ZoneId.of() stand-in: validates the timezone setting like Java would (roughly). */
export function checkZoneId(zone: string): void {
  if (zone === '') throw new Error('Invalid ID for ZoneId: empty timezone (template rendered to "")');
  if (parseFixedOffset(zone) !== undefined) return;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new Error(`Unknown time-zone ID: ${zone}`);
  }
  // Intl accepts abbreviations such as "CEST" on some ICU builds; ZoneId.of does not.
  if (!zone.includes('/') && !['UTC', 'GMT', 'CET', 'EET', 'WET', 'MET', 'EST', 'MST', 'HST'].includes(zone)) {
    throw new Error(`Unknown time-zone ID (not a region id): ${zone}`);
  }
}

/** Local wall time in `zone` → epoch ms, resolving gaps/overlaps like ZonedDateTime.ofLocal. */
function localToEpoch(p: Parsed, zone: string): number {
  const wall = Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s, p.ms);
  const before = zoneOffsetMinutes(zone, wall - 86400000);
  const after = zoneOffsetMinutes(zone, wall + 86400000);
  const candidates = [...new Set([before, after])]
    .map((off) => wall - off * 60000)
    .filter((epoch) => zoneOffsetMinutes(zone, epoch) * 60000 === wall - epoch);
  if (candidates.length > 0) return Math.min(...candidates); // overlap → earlier offset
  return wall - before * 60000; // gap → shifted forward by the gap length
}

function pad(n: number, w = 2): string {
  return String(Math.abs(n)).padStart(w, '0');
}

/** date processor: parse with the first matching format, render in `timezone`. */
export function dateProcessorValue(text: string, formats: readonly string[], timezone: string): string {
  checkZoneId(timezone);
  const errors: string[] = [];
  for (const f of formats) {
    let p: Parsed;
    try {
      p = parseJavaDate(text, f);
    } catch (e) {
      errors.push((e as Error).message);
      continue;
    }
    let epoch: number;
    if (p.offsetMin !== undefined) epoch = Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s, p.ms) - p.offsetMin * 60000;
    else epoch = localToEpoch(p, p.zone ?? timezone);
    const off = zoneOffsetMinutes(timezone, epoch);
    const local = new Date(epoch + off * 60000);
    const offStr =
      off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${pad(Math.trunc(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
    return (
      `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
      `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}` +
      `.${pad(local.getUTCMilliseconds(), 3)}${offStr}`
    );
  }
  throw new Error(`unable to parse date [${text}]: ${errors.join('; ')}`);
}

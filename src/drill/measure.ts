/**
 * Pure measurement and judgement of a drill: from the probes' acknowledged operations and the
 * moments the watcher saw, the report lines against the targets. No I/O, no clock.
 */
import { formatDuration } from '../util/duration.js';
import type { DrillLine, DrillOutcome, DrillReport } from './types.js';

export interface Gap {
  ms: number;
  /** Last success before the gap (or the window start). */
  from: number;
  /** First success after it (or the window end). */
  to: number;
}

/**
 * The longest interval without a success inside [start, end]: the window edges count, so a probe
 * that never succeeded after the switchover shows the whole rest of the window, not zero.
 */
export function longestGap(successes: readonly number[], start: number, end: number): Gap {
  const ts = successes.filter((t) => t >= start && t <= end).sort((a, b) => a - b);
  const points = [start, ...ts, end];
  let best: Gap = { ms: 0, from: start, to: start };
  for (let i = 1; i < points.length; i++) {
    const ms = points[i]! - points[i - 1]!;
    if (ms > best.ms) best = { ms, from: points[i - 1]!, to: points[i]! };
  }
  return best;
}

/** Acknowledged writes (by sequence number) not found afterwards: each one is data the cluster lost. */
export function missingWrites(
  acked: ReadonlyMap<number, number>,
  present: ReadonlySet<number>,
): { seqs: number[]; spanMs: number } {
  const seqs = [...acked.keys()].filter((s) => !present.has(s)).sort((a, b) => a - b);
  if (seqs.length === 0) return { seqs, spanMs: 0 };
  const times = seqs.map((s) => acked.get(s)!);
  return { seqs, spanMs: Math.max(...times) - Math.min(...times) };
}

const dur = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? 'not reached' : ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : formatDuration(ms);

/** A line measuring a duration against an upper bound. */
export function durationLine(
  name: string,
  valueMs: number | null,
  targetMs: number,
  targetText = `< ${dur(targetMs)}`,
): DrillLine {
  return { name, valueMs, targetMs, target: targetText, pass: valueMs !== null && valueMs < targetMs };
}

export function infoLine(name: string, valueMs: number | null, measured?: string): DrillLine {
  return { name, valueMs, ...(measured !== undefined ? { measured } : {}), target: 'info', pass: null };
}

/** RPO: acknowledged writes missing after the drill. Must be 0; undefined = could not be checked (no primary to read). */
export function rpoLine(missing: { seqs: number[]; spanMs: number } | undefined, probeIntervalMs: number): DrillLine {
  if (!missing)
    return {
      name: 'RPO (acked writes missing)',
      valueMs: null,
      measured: 'not checked (no primary to read back from)',
      target: '0 writes',
      pass: false,
    };
  const n = missing.seqs.length;
  return {
    name: 'RPO (acked writes missing)',
    valueMs: n === 0 ? 0 : missing.spanMs + probeIntervalMs,
    measured: n === 0 ? '0 writes (0 s)' : `${n} write(s) lost, ~${dur(missing.spanMs + probeIntervalMs)} of writes`,
    target: '0 writes',
    pass: n === 0,
  };
}

/** PASS only when every judged line passed and nothing interrupted the drill. */
export function outcomeOf(lines: readonly DrillLine[], interrupted: boolean, failed: boolean): DrillOutcome {
  if (interrupted) return 'INTERRUPTED';
  if (failed || lines.some((l) => l.pass === false)) return 'FAIL';
  return 'PASS';
}

/** Successes per bucket over [start, end], for the strip chart. */
export function bucketize(
  successes: readonly number[],
  start: number,
  end: number,
  maxBuckets = 60,
  minBucketMs = 250,
): { bucketMs: number; counts: number[] } {
  const span = Math.max(1, end - start);
  const bucketMs = Math.max(minBucketMs, Math.ceil(span / maxBuckets / 50) * 50);
  const counts = new Array<number>(Math.ceil(span / bucketMs)).fill(0);
  for (const t of successes) {
    if (t < start || t > end) continue;
    const i = Math.min(counts.length - 1, Math.floor((t - start) / bucketMs));
    counts[i]! += 1;
  }
  return { bucketMs, counts };
}

/** One character per bucket: █ some successes, ▄ fewer than half the best bucket, · none. */
export function stripChart(counts: readonly number[]): string {
  const max = Math.max(0, ...counts);
  return counts.map((c) => (c === 0 ? '·' : c * 2 < max ? '▄' : '█')).join('');
}

const mark = (p: boolean | null) => (p === null ? 'info' : p ? 'PASS' : 'FAIL');
const secs = (t: number) => `+${(t / 1000).toFixed(1)}s`.padStart(7);

/** The report as plain text (CLI; the chat wraps it in <pre>). */
export function formatReport(r: DrillReport): string {
  const icon = r.outcome === 'PASS' ? '✅' : r.outcome === 'REFUSED' ? '⛔' : r.outcome === 'INTERRUPTED' ? '⚠️' : '❌';
  const out = [
    `${icon} Drill ${r.kind} ${r.subject}: ${r.outcome}${r.outcome === 'REFUSED' || r.outcome === 'INTERRUPTED' ? '' : ` in ${dur(r.endedAt - r.startedAt)}`}`,
    `id ${r.id} · by ${r.by} · ${new Date(r.startedAt).toISOString().replace('.000Z', 'Z')}`,
  ];
  for (const why of r.reasons) out.push(`  ${r.outcome === 'REFUSED' ? 'refused' : 'why'}: ${why}`);
  if (r.lines.length) {
    const width = Math.max(...r.lines.map((l) => l.name.length));
    out.push('');
    for (const l of r.lines)
      out.push(
        `${mark(l.pass).padEnd(4)}  ${l.name.padEnd(width)}  ${(l.measured ?? dur(l.valueMs)).padEnd(10)}  target ${l.target}`,
      );
  }
  if (r.probe && r.kind === 'app-node')
    out.push(
      '',
      `probe: ${r.probe.writesAcked} good answers through the Odoo frontend, ${r.probe.writesFailed} failed`,
    );
  else if (r.probe)
    out.push(
      '',
      `probes: ${r.probe.writesAcked} writes acked, ${r.probe.writesFailed} failed; ${r.probe.readsOk} reads ok, ${r.probe.readsFailed} failed; ${r.probe.missing} acked write(s) missing`,
    );
  if (r.strip) {
    out.push('', `${r.kind === 'app-node' ? 'http  ' : 'writes'} ${stripChart(r.strip.writes)}`);
    if (r.strip.reads) out.push(`reads  ${stripChart(r.strip.reads)}`);
    out.push(`       one column = ${dur(r.strip.bucketMs)}; █ normal, ▄ slowed, · nothing acknowledged`);
  }
  if (r.timeline.length) {
    out.push('', 'timeline:');
    for (const e of r.timeline) out.push(`${secs(e.t)}  ${e.text}`);
  }
  if (r.silences.length)
    out.push('', `muted during the drill: silences ${r.silences.join(', ')} (/unsilence <id> to lift early)`);
  return out.join('\n');
}

/** One line per drill, newest first (CLI `drill history`, /drill history). */
export function formatHistory(drills: readonly DrillReport[]): string {
  if (drills.length === 0) return 'No drills yet. Run one: odoo-ha-watch drill switchover';
  return drills
    .map((r) => {
      const judged = r.lines.filter((l) => l.pass !== null);
      const key = r.lines.find((l) => /^(write|Odoo) RTO/.test(l.name));
      return `${new Date(r.startedAt).toISOString().slice(0, 19).replace('T', ' ')}Z  ${r.outcome.padEnd(11)} ${r.kind.padEnd(10)} ${r.subject}${key ? `  RTO ${dur(key.valueMs)}` : ''}${judged.length ? `  ${judged.filter((l) => l.pass).length}/${judged.length} lines pass` : ''}${r.reasons[0] ? `  (${r.reasons[0]})` : ''}  [${r.id}]`;
    })
    .join('\n');
}

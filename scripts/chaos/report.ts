/** The chaos run's report: a table per fault kind, the violations, and the JSON written with --json. */
import type { CheckResult, CycleMetrics } from './checker.js';
import type { Timeline } from './timeline.js';

export interface KindRow {
  kind: string;
  cycles: number;
  firstPage: { median?: number; max?: number; n: number };
  failoverMessage: { median?: number; max?: number; n: number };
  resolve: { median?: number; max?: number; n: number };
  messagesPerIncident?: number;
  violations: number;
}

function stats(xs: number[]): { median?: number; max?: number; n: number } {
  if (xs.length === 0) return { n: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return { median: s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, max: s[s.length - 1]!, n: s.length };
}

export function kindRows(cycles: readonly CycleMetrics[]): KindRow[] {
  const kinds = [...new Set(cycles.map((c) => c.kind))].sort();
  return kinds.map((kind) => {
    const cs = cycles.filter((c) => c.kind === kind);
    const incidents = cs.reduce((n, c) => n + c.incidents, 0);
    const messages = cs.reduce((n, c) => n + c.messages, 0);
    return {
      kind,
      cycles: cs.length,
      firstPage: stats(cs.flatMap((c) => (c.firstPageMs !== undefined ? [c.firstPageMs] : []))),
      failoverMessage: stats(cs.flatMap((c) => (c.failoverMessageMs !== undefined ? [c.failoverMessageMs] : []))),
      resolve: stats(cs.flatMap((c) => (c.resolveMs !== undefined ? [c.resolveMs] : []))),
      ...(incidents > 0 ? { messagesPerIncident: messages / incidents } : {}),
      violations: cs.reduce((n, c) => n + c.violations, 0),
    };
  });
}

const sec = (ms: number | undefined) => (ms === undefined ? '–' : (ms / 1000).toFixed(1));
const pair = (s: { median?: number; max?: number }) => `${sec(s.median)} / ${sec(s.max)}`;

/** Markdown table (it goes into the README as is). */
export function renderTable(rows: readonly KindRow[]): string {
  const head = [
    'fault kind',
    'cycles',
    'first page s (median / max)',
    'leader → failover msg s',
    'recovery → resolve s',
    'messages / incident',
    'violations',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    lines.push(
      `| ${r.kind} | ${r.cycles} | ${pair(r.firstPage)} | ${pair(r.failoverMessage)} | ${pair(r.resolve)} | ${r.messagesPerIncident === undefined ? '–' : r.messagesPerIncident.toFixed(1)} | ${r.violations} |`,
    );
  }
  return lines.join('\n');
}

export function renderViolations(result: CheckResult): string {
  if (result.violations.length === 0) return 'violations: none';
  return [
    'violations:',
    ...result.violations.map(
      (v) => `  cycle ${v.cycle ?? '-'} ${v.kind ?? ''} [${v.rule}] ${new Date(v.at).toISOString()} ${v.detail}`,
    ),
  ].join('\n');
}

export interface ChaosReport {
  command: string;
  timeline: Timeline;
  kinds: KindRow[];
  cycles: CycleMetrics[];
  violations: CheckResult['violations'];
  incidents: CheckResult['incidents'];
}

export function buildReport(command: string, timeline: Timeline, result: CheckResult): ChaosReport {
  return {
    command,
    timeline,
    kinds: kindRows(result.cycles),
    cycles: result.cycles,
    violations: result.violations,
    incidents: result.incidents,
  };
}

import type { Notification, NotifiedAlert } from '../alerts/notification.js';
import { formatDuration } from '../util/duration.js';
import { truncate } from '../util/text.js';

const ICON = { critical: '🔴', warning: '🟠', info: '🔵' } as const;

export interface FormatOptions {
  now: number;
  maxSampleLines?: number;
  maxSampleChars?: number;
}

/** Labels that say *where*, in the order an operator looks for them. */
export const WHERE_LABELS = ['cluster', 'member', 'node', 'backend', 'server', 'target', 'db', 'host'] as const;

export function whereOf(a: NotifiedAlert): string {
  const parts = WHERE_LABELS.filter((k) => a.labels[k]).map((k) => `${k}=${a.labels[k]}`);
  const rest = Object.entries(a.labels)
    .filter(([k]) => !(WHERE_LABELS as readonly string[]).includes(k))
    .map(([k, v]) => `${k}=${v}`);
  return [...parts, ...rest].join(' ');
}

export function trimSample(line: string, max: number): string {
  return truncate(line.trimEnd(), max);
}

/**
 * Plain-text rendering: the same facts a Telegram message carries (what, where, since when,
 * value, samples, what to do first). Pure: time comes from `opts.now`.
 */
/** "failover_completed" → "failover completed". */
export const phaseWords = (phase: string): string => phase.replace(/_/g, ' ');

/**
 * An incident moving on, as the lines a console reader follows: one line per alert, the phase first,
 * then what it means now ("↪ [critical] PostgreSQL primary down / failover — odoo-cluster: failover
 * completed: …"). A reply-worthy phase is marked "!".
 */
export function formatUpdateText(n: Notification): string {
  const lines = n.alerts.map(
    (a) =>
      `${a.attention ? '↪!' : '↪ '} [${n.rule.severity}] ${n.rule.name} — ${n.cluster}: ${a.phaseChanged && a.phase ? `${phaseWords(a.phase)}: ` : ''}${a.message} [${a.shortId}]`,
  );
  return lines.join('\n');
}

export function formatText(n: Notification, opts: FormatOptions): string {
  if (n.kind === 'update') return formatUpdateText(n);
  const maxLines = opts.maxSampleLines ?? 5;
  const maxChars = opts.maxSampleChars ?? 300;
  const head =
    n.kind === 'resolved'
      ? `✅ RESOLVED [${n.rule.severity}] ${n.rule.name}`
      : `${ICON[n.rule.severity]} ${n.alerts.every((a) => a.repeat) ? 'STILL FIRING' : 'FIRING'} [${n.rule.severity}] ${n.rule.name}`;
  const lines = [`${head} — ${n.cluster} (${n.alerts.length} alert${n.alerts.length === 1 ? '' : 's'})`];
  for (const a of n.alerts) {
    const since = a.activeSince;
    const timing =
      n.kind === 'resolved'
        ? `lasted ${formatDuration((a.resolvedAt ?? opts.now) - (a.firedAt ?? since))}`
        : `since ${new Date(since).toISOString()} (${formatDuration(opts.now - since)} ago)`;
    lines.push(`• [${a.shortId}] ${a.message}`);
    lines.push(`  where: ${whereOf(a) || '-'} · ${timing}${a.repeat ? ' · reminder' : ''}`);
    for (const s of (a.samples ?? []).slice(0, maxLines)) lines.push(`  | ${trimSample(s, maxChars)}`);
  }
  if (n.kind === 'firing' && n.rule.runbook) lines.push(`What to do first: ${n.rule.runbook}`);
  lines.push(`rule: ${n.rule.id}`);
  if (n.via) lines.push(`sent by watcher ${n.via} (etcd unreachable: every watcher sends its own copy)`);
  return lines.join('\n');
}

import type { Alert } from '../../alerts/alert.js';
import type { Notification, NotifiedAlert } from '../../alerts/notification.js';
import type { Values } from '../../rules/rule-type.js';
import { formatDuration } from '../../util/duration.js';
import { phaseWords, WHERE_LABELS } from '../format-text.js';
import { escapeHtml as esc, splitHtml, TELEGRAM_MAX_CHARS, truncateText, visibleLength } from './html.js';

export { escapeHtml } from './html.js';

const ICON = { critical: '🔴', warning: '🟠', info: '🔵' } as const;

export interface TelegramFormatOptions {
  now: number;
  /** Sample log lines shown per alert (the rest are counted). */
  maxSampleLines?: number;
  /** Each sample line is trimmed to this many characters. */
  maxSampleChars?: number;
  /** More parts than this and the message is rendered compact (one line per alert) instead. */
  maxParts?: number;
}

export const utc = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
const code = (s: string) => `<code>${esc(s)}</code>`;

/** "cluster=<code>odoo</code> member=<code>pg2</code>": where, in the order an operator looks. */
export function whereHtml(cluster: string, a: { labels: Record<string, string> }): string {
  const known = (WHERE_LABELS as readonly string[]).filter((k) => a.labels[k] !== undefined);
  const rest = Object.keys(a.labels)
    .filter((k) => !known.includes(k) && k !== 'cluster')
    .sort();
  const parts = [`cluster=${code(a.labels['cluster'] ?? cluster)}`];
  for (const k of [...known.filter((k) => k !== 'cluster'), ...rest]) parts.push(`${esc(k)}=${code(a.labels[k]!)}`);
  return parts.join(' ');
}

const show = (v: Values[string]): string =>
  v === null ? 'null' : typeof v === 'number' && !Number.isInteger(v) ? String(Math.round(v * 1000) / 1000) : String(v);

/** "value 120 vs threshold 100" when the rule type reports a threshold; otherwise the evidence fields. */
export function valueHtml(values: Values): string | undefined {
  const entries = Object.entries(values);
  if (entries.length === 0) return undefined;
  if (values['threshold'] !== undefined) {
    const key =
      ['value', 'current', 'observed', 'count'].find((k) => values[k] !== undefined) ??
      entries.find(([k, v]) => k !== 'threshold' && typeof v === 'number')?.[0];
    const main =
      key !== undefined
        ? `${code(show(values[key]!))}${key === 'value' ? '' : ` (${esc(key)})`} vs threshold ${code(show(values['threshold']))}`
        : `threshold ${code(show(values['threshold']))}`;
    const rest = entries
      .filter(([k]) => k !== key && k !== 'threshold')
      .slice(0, 4)
      .map(([k, v]) => `${esc(k)}=${esc(truncateText(show(v), 80))}`);
    return rest.length ? `${main} · ${rest.join(' ')}` : main;
  }
  return entries
    .slice(0, 6)
    .map(([k, v]) => `${esc(k)}=${code(truncateText(show(v), 120))}`)
    .join(' ');
}

function samplesHtml(a: NotifiedAlert, maxLines: number, maxChars: number): string[] {
  const all = a.samples ?? [];
  if (all.length === 0 || maxLines === 0) return [];
  const shown = all.slice(0, maxLines).map((s) => esc(truncateText(s.replace(/\s+$/u, ''), maxChars)));
  const head = all.length > shown.length ? `<b>Log</b> (${shown.length} of ${all.length} lines):` : '<b>Log</b>:';
  return [head, `<pre>${shown.join('\n')}</pre>`];
}

function alertBlock(n: Notification, a: NotifiedAlert, o: Required<TelegramFormatOptions>, compact: boolean): string[] {
  if (compact) return [`• ${code(a.shortId)} ${esc(truncateText(a.message, 200))} — ${whereHtml(n.cluster, a)}`];
  const lines = [`<b>What</b>: ${esc(a.message)}${a.repeat ? ' <i>(reminder)</i>' : ''}`];
  lines.push(`<b>Where</b>: ${whereHtml(n.cluster, a)}`);
  lines.push(`<b>Since</b>: ${utc(a.activeSince)} (${formatDuration(o.now - a.activeSince)} ago)`);
  const v = valueHtml(a.values);
  if (v) lines.push(`<b>Value</b>: ${v}`);
  lines.push(...samplesHtml(a, o.maxSampleLines, o.maxSampleChars));
  lines.push(`<i>id ${esc(a.shortId)}</i>`);
  return lines;
}

/** Fail-open mark: several watchers, etcd unreachable, each sends its own copy. */
const viaHtml = (via: string): string =>
  `<i>sent by watcher ${esc(via)} (etcd unreachable: every watcher sends its own copy)</i>`;

function defaults(o: TelegramFormatOptions): Required<TelegramFormatOptions> {
  return {
    now: o.now,
    maxSampleLines: o.maxSampleLines ?? 5,
    maxSampleChars: o.maxSampleChars ?? 300,
    maxParts: o.maxParts ?? 3,
  };
}

function firingHtml(n: Notification, o: Required<TelegramFormatOptions>, compact: boolean): string {
  const sev = n.rule.severity;
  const count = n.alerts.length > 1 ? ` (${n.alerts.length} alerts)` : '';
  const word = n.alerts.every((a) => a.repeat) ? 'STILL FIRING' : 'FIRING';
  const lines = [`${ICON[sev]} <b>${word} · ${sev.toUpperCase()}</b> · <b>${esc(n.rule.name)}</b>${count}`];
  for (const a of n.alerts) {
    if (!compact) lines.push('');
    lines.push(...alertBlock(n, a, o, compact));
  }
  lines.push('');
  if (n.rule.runbook) lines.push(`<b>What to do first</b>: ${esc(n.rule.runbook)}`);
  lines.push(`<i>rule ${esc(n.rule.id)}</i>`);
  if (n.via) lines.push(viaHtml(n.via));
  return lines.join('\n');
}

function resolvedHtml(n: Notification, o: Required<TelegramFormatOptions>, compact: boolean): string {
  const lasted = (a: NotifiedAlert) => formatDuration((a.resolvedAt ?? o.now) - (a.firedAt ?? a.activeSince));
  const one = n.alerts.length === 1 ? ` — lasted ${lasted(n.alerts[0]!)}` : ` (${n.alerts.length} alerts)`;
  const lines = [`✅ <b>RESOLVED</b> · ${n.rule.severity} · <b>${esc(n.rule.name)}</b>${one}`];
  for (const a of n.alerts) {
    lines.push(
      compact
        ? `• ${code(a.shortId)} ${whereHtml(n.cluster, a)} — lasted ${lasted(a)}`
        : `• ${code(a.shortId)} ${esc(a.message)}\n  ${whereHtml(n.cluster, a)} · fired ${utc(a.firedAt ?? a.activeSince)}, lasted ${lasted(a)}`,
    );
  }
  lines.push(`<i>rule ${esc(n.rule.id)}</i>`);
  if (n.via) lines.push(viaHtml(n.via));
  return lines.join('\n');
}

/** "(2/3)" under each part of a split message. */
export const partSuffix = (index: number, total: number): string => `\n<i>(${index + 1}/${total})</i>`;
/** Visible room kept free in every part for its suffix (up to "(999/999)"). */
const SUFFIX_RESERVE = visibleLength(partSuffix(998, 999));

/** The text sent for part `index` of `total`: the part itself, plus "(i/n)" when there are several. */
export const partText = (parts: readonly string[], index: number): string =>
  parts.length > 1 ? `${parts[index]!}${partSuffix(index, parts.length)}` : parts[index]!;

/**
 * Splits HTML into parts that stay ≤ `max` once their "(i/n)" suffix is added. A message that fits
 * whole gets no suffix and is not split.
 */
export function splitForTelegram(html: string, max = TELEGRAM_MAX_CHARS): string[] {
  if (visibleLength(html) <= max) return [html];
  return splitHtml(html, max - SUFFIX_RESERVE);
}

/**
 * After Telegram answered "message is too long" for part `index` (it counted more than we did):
 * that part is split again into parts of at most `shrink` of its length; the others are kept.
 */
export function resplitPart(parts: readonly string[], index: number, shrink = 0.6): string[] {
  const part = parts[index]!;
  const budget = Math.max(1, Math.floor(visibleLength(part) * shrink) - SUFFIX_RESERVE);
  return [...parts.slice(0, index), ...splitHtml(part, budget), ...parts.slice(index + 1)];
}

/**
 * The parts of one notification, before their "(i/n)" suffix (see {@link partText}): HTML, every
 * value escaped, each part valid on its own and ≤ 4096 visible characters with its suffix. A
 * message that would need more than `maxParts` parts is rendered compact (one line per alert)
 * first, so a storm is never 20 messages.
 */
export function renderNotificationParts(n: Notification, opts: TelegramFormatOptions): string[] {
  const o = defaults(opts);
  const render = n.kind === 'resolved' ? resolvedHtml : firingHtml;
  let parts = splitForTelegram(render(n, o, false));
  if (parts.length > o.maxParts) parts = splitForTelegram(render(n, o, true));
  return parts;
}

/** The message(s) for one notification exactly as sent, "(i/n)" suffixes included. */
export function renderNotification(n: Notification, opts: TelegramFormatOptions): string[] {
  const parts = renderNotificationParts(n, opts);
  return parts.map((_, i) => partText(parts, i));
}

/** The firing message, edited once every alert in it resolved: it stops looking like a live page. */
export function renderResolvedEdit(
  n: Notification,
  alerts: readonly Pick<Alert, 'shortId' | 'labels' | 'message' | 'firedAt' | 'activeSince' | 'resolvedAt' | 'story'>[],
  opts: { now: number },
): string {
  const lines = [
    `✅ <b>RESOLVED</b> <s>${ICON[n.rule.severity]} FIRING · ${n.rule.severity.toUpperCase()}</s> · <b>${esc(n.rule.name)}</b>`,
  ];
  for (const a of alerts.slice(0, 30)) {
    const from = a.firedAt ?? a.activeSince;
    const to = a.resolvedAt ?? opts.now;
    lines.push(`• ${code(a.shortId)} ${esc(truncateText(a.message, 300))}`);
    lines.push(`  ${whereHtml(n.cluster, a)} · ${utc(from)} → ${utc(to)} (lasted ${formatDuration(to - from)})`);
    const story = a.story ?? [];
    if (story.length > 2)
      for (const e of story)
        lines.push(`  ${hms(e.at)} <b>${esc(phaseWords(e.phase))}</b>: ${esc(truncateText(e.text, 200))}`);
  }
  if (alerts.length > 30) lines.push(`…and ${alerts.length - 30} more`);
  lines.push(`<i>rule ${esc(n.rule.id)}</i>`);
  return splitHtml(lines.join('\n'))[0]!;
}

const hms = (ms: number) => new Date(ms).toISOString().slice(11, 19);

type ThreadAlert = Pick<
  Alert,
  | 'shortId'
  | 'labels'
  | 'message'
  | 'firedAt'
  | 'activeSince'
  | 'resolvedAt'
  | 'state'
  | 'phase'
  | 'story'
  | 'samples'
  | 'lastSeenAt'
  | 'values'
>;

/**
 * The first message of an incident, as it stands now: the current phase and text on top, then the
 * story so far, one line per phase with its time. Edited in place (quietly) on every update; once
 * every alert in it resolved it becomes the resolved edit.
 */
export function renderThreadHead(n: Notification, alerts: readonly ThreadAlert[], opts: TelegramFormatOptions): string {
  if (alerts.length > 0 && alerts.every((a) => a.state === 'resolved')) return renderResolvedEdit(n, alerts, opts);
  const o = defaults(opts);
  const open = alerts.filter((a) => a.state !== 'resolved');
  const phase = open.length === 1 && open[0]!.phase ? ` · <i>${esc(phaseWords(open[0]!.phase))}</i>` : '';
  const lines = [
    `${ICON[n.rule.severity]} <b>FIRING · ${n.rule.severity.toUpperCase()}</b> · <b>${esc(n.rule.name)}</b>${phase}`,
  ];
  for (const a of alerts.slice(0, 10)) {
    lines.push('');
    lines.push(`<b>${a.state === 'resolved' ? 'Resolved' : 'Now'}</b>: ${esc(a.message)}`);
    lines.push(`<b>Where</b>: ${whereHtml(n.cluster, a)}`);
    lines.push(`<b>Since</b>: ${utc(a.activeSince)} (${formatDuration(o.now - a.activeSince)} ago)`);
    const story = a.story ?? [];
    if (story.length > 1) {
      lines.push('<b>Story</b>:');
      for (const e of story)
        lines.push(`${hms(e.at)} <b>${esc(phaseWords(e.phase))}</b>: ${esc(truncateText(e.text, 200))}`);
    }
    if (a.samples?.length) {
      lines.push(`<b>Latest</b> (last match ${hms(a.lastSeenAt)} UTC):`);
      lines.push(`<pre>${esc(truncateText(a.samples[0]!.replace(/\s+$/u, ''), o.maxSampleChars))}</pre>`);
    }
    lines.push(`<i>id ${esc(a.shortId)}</i>`);
  }
  lines.push('');
  if (n.rule.runbook) lines.push(`<b>What to do first</b>: ${esc(n.rule.runbook)}`);
  lines.push(`<i>rule ${esc(n.rule.id)} · updated ${utc(o.now)}</i>`);
  return splitHtml(lines.join('\n'))[0]!;
}

/** The reply that tells a phase needing attention (replies notify; edits do not). */
export function renderUpdateReply(n: Notification, opts: TelegramFormatOptions): string {
  const o = defaults(opts);
  const lines = [
    `${ICON[n.rule.severity]} <b>UPDATE · ${n.rule.severity.toUpperCase()}</b> · <b>${esc(n.rule.name)}</b>`,
  ];
  for (const a of n.alerts) {
    const head = a.phase ? `<b>${esc(phaseWords(a.phase))}</b> — ` : '';
    lines.push(`${head}${esc(a.message)}`);
    lines.push(`<i>id ${esc(a.shortId)} · ${utc(o.now)}</i>`);
  }
  return splitHtml(lines.join('\n'))[0]!;
}

/**
 * One message standing for many notifications held back by rate limits: counts first, then one
 * line per alert until the message is full. Nothing is dropped silently: what does not fit is counted.
 */
export function renderDigest(
  items: readonly Notification[],
  opts: { now: number; cluster?: string; max?: number },
): string {
  const firing = items.filter((n) => n.kind !== 'resolved');
  const resolved = items.filter((n) => n.kind === 'resolved');
  const alertsOf = (ns: Notification[]) => ns.reduce((s, n) => s + n.alerts.length, 0);
  const bySev = (['critical', 'warning', 'info'] as const)
    .map((s) => [s, alertsOf(firing.filter((n) => n.rule.severity === s))] as const)
    .filter(([, c]) => c > 0)
    .map(([s, c]) => `${ICON[s]} ${c} ${s}`);
  const cluster = opts.cluster ?? items[0]?.cluster ?? '';
  const head = [
    `📦 <b>Digest</b>: ${items.length} notifications for ${code(cluster)} arrived faster than Telegram allows; here they are in one message.`,
    `<b>Firing</b>: ${alertsOf(firing)} alert(s)${bySev.length ? ` (${bySev.join(', ')})` : ''} · <b>Resolved</b>: ${alertsOf(resolved)}`,
    '',
  ];
  const lines: string[] = [];
  const ordered = [...items].sort((a, b) => sevRank(a) - sevRank(b) || a.at - b.at);
  for (const n of ordered) {
    for (const a of n.alerts) {
      const tag = n.kind === 'resolved' ? '✅' : ICON[n.rule.severity];
      lines.push(
        `${tag} ${code(a.shortId)} <b>${esc(truncateText(n.rule.name, 60))}</b>: ${esc(truncateText(a.message, 140))}`,
      );
    }
  }
  const total = lines.length;
  const foot = (more: number) =>
    `${more > 0 ? `…and ${more} more alert line(s) not shown. ` : ''}Send /alerts for the current picture.`;
  let html = '';
  for (let shown = total; shown >= 0; shown = shown > 40 ? Math.floor(shown * 0.8) : shown - 1) {
    html = [...head, ...lines.slice(0, shown), '', foot(total - shown)].join('\n');
    if (visibleLength(html) <= (opts.max ?? TELEGRAM_MAX_CHARS)) break;
  }
  return html;
}

const sevRank = (n: Notification) =>
  n.kind === 'resolved' ? 3 : { critical: 0, warning: 1, info: 2 }[n.rule.severity];

export interface InlineButton {
  text: string;
  callback_data: string;
}

/**
 * Ack / Silence 1h / Silence 24h per alert (up to 4 alerts). The buttons carry the full fingerprint
 * (16 hex digits: "sil:<fp>:24h" is 24 bytes, under Telegram's 64-byte callback_data limit), so a
 * press always means exactly the alert it was shown under, even when two alerts share a short id.
 */
export function alertKeyboard(n: Notification): InlineButton[][] | undefined {
  if (n.kind !== 'firing' || n.alerts.length === 0) return undefined;
  const single = n.alerts.length === 1;
  return n.alerts.slice(0, 4).map((a) => [
    { text: single ? '✔ Ack' : `✔ Ack ${a.shortId}`, callback_data: `ack:${a.fingerprint}` },
    { text: single ? '🔕 Silence 1h' : '🔕 1h', callback_data: `sil:${a.fingerprint}:1h` },
    { text: single ? '🔕 Silence 24h' : '🔕 24h', callback_data: `sil:${a.fingerprint}:24h` },
  ]);
}

/**
 * Pure HTML views for the bot's replies: data in, Telegram HTML out (every value escaped, one
 * message ≤ 4096 visible characters). Time comes in as `now`.
 */
import type { Alert } from '../alerts/alert.js';
import type { Transition } from '../alerts/lifecycle.js';
import type { Silence } from '../alerts/silences.js';
import { escapeHtml as esc, splitHtml } from '../notify/telegram/html.js';
import { utc, whereHtml } from '../notify/telegram/format.js';
import type { StatusSnapshot } from '../status/snapshot.js';
import type { RuleHealth } from '../store/store.js';
import { formatDuration } from '../util/duration.js';

const ICON = { critical: '🔴', warning: '🟠', info: '🔵' } as const;
const STATE_ICON: Record<string, string> = { ok: '🟢', 'no data': '⚪', 'not configured': '▫️', unreachable: '🔴' };
const code = (s: string) => `<code>${esc(s)}</code>`;
const age = (ms: number | undefined) => (ms === undefined ? '' : ` · data ${formatDuration(ms)} old`);

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

/** /status: what each source reports (never invented), how old it is, and the alert count. */
export function statusView(s: StatusSnapshot): string {
  const lines = [`📊 <b>Cluster ${esc(s.cluster)}</b> — ${utc(s.at)}`];
  lines.push(`<b>Alerts</b>: ${s.alerts.firing} firing, ${s.alerts.pending} pending`);
  lines.push('');
  for (const src of s.sources) {
    lines.push(`${STATE_ICON[src.state] ?? '•'} <b>${esc(src.name)}</b>: ${esc(src.state)}${src.detail ? ` — ${esc(src.detail)}` : ''}${age(src.ageMs)}`);
  }
  return fit(lines);
}

/** /lag: per replica lag and failover candidacy, from what the Patroni source reports. */
export function lagView(s: StatusSnapshot): string {
  const lines = [`📉 <b>Replication lag — ${esc(s.cluster)}</b> — ${utc(s.at)}`];
  const patroni = s.sources.find((x) => x.name === 'patroni');
  const postgres = s.sources.find((x) => x.name === 'postgres');
  const why = [patroni, postgres].filter((x): x is NonNullable<typeof x> => x !== undefined).map((x) => `${esc(x.name)}: ${esc(x.state)}${x.detail ? ` (${esc(x.detail)})` : ''}`);
  lines.push(`no data — ${why.join('; ') || 'no Patroni source configured'}`);
  return fit(lines);
}

export function alertsView(alerts: readonly Alert[], now: number, cluster: string): string {
  if (alerts.length === 0) return '✅ No firing or pending alerts.';
  const rank = { critical: 0, warning: 1, info: 2 } as const;
  const sorted = [...alerts].sort((a, b) => (a.state === b.state ? 0 : a.state === 'firing' ? -1 : 1) || rank[a.severity] - rank[b.severity] || a.activeSince - b.activeSince);
  const firing = sorted.filter((a) => a.state === 'firing').length;
  const lines = [`<b>${firing} firing, ${sorted.length - firing} pending</b>`];
  for (const a of sorted) {
    const since = a.state === 'firing' ? `firing ${formatDuration(now - (a.firedAt ?? a.activeSince))}` : `pending ${formatDuration(now - a.activeSince)}`;
    const ack = a.ackedBy ? ` · acked by ${esc(a.ackedBy)}` : '';
    lines.push(`${ICON[a.severity]} ${code(a.shortId)} <b>${esc(a.ruleId)}</b> · ${since}${ack}\n   ${esc(a.message)} · ${whereHtml(cluster, a)}`);
  }
  return fit(lines, (n) => `…and ${n} more (use the short ids with /ack and /silence)`);
}

const isFailover = (t: Transition) => /failover|switchover|leader/i.test(t.ruleId);

/** /history: the last transitions, failovers first, newest first within each group. */
export function historyView(transitions: readonly Transition[], n: number): string {
  if (transitions.length === 0) return 'No transitions recorded yet.';
  const sorted = [...transitions].sort((a, b) => Number(isFailover(b)) - Number(isFailover(a)) || b.at - a.at).slice(0, n);
  const lines = [`<b>Last ${sorted.length} transition(s)</b> (failovers first)`];
  for (const t of sorted) {
    const icon = t.to === 'firing' ? '🔥' : t.to === 'resolved' ? '✅' : '•';
    lines.push(`${icon} ${utc(t.at)} ${code(t.ruleId)} ${esc(t.from)}→${esc(t.to)}${isFailover(t) ? ' <b>[failover]</b>' : ''}\n   ${esc(t.message)}`);
  }
  return fit(lines);
}

export function silencesView(silences: readonly Silence[], now: number): string {
  const active = silences.filter((s) => s.endsAt > now);
  if (active.length === 0) return 'No active silences.';
  const lines = [`<b>${active.length} active silence(s)</b>`];
  for (const s of active) {
    const what = [s.ruleId ? `rule ${code(s.ruleId)}` : 'any rule', ...Object.entries(s.matchers).map(([k, v]) => `${esc(k)}=${code(v)}`)].join(' ');
    lines.push(`🔕 ${code(s.id)} ${what}\n   until ${utc(s.endsAt)} (${formatDuration(s.endsAt - now)} left) · by ${esc(s.author)}${s.reason ? ` · ${esc(s.reason)}` : ''}`);
  }
  return fit(lines);
}

export interface RuleRow { id: string; type: string; severity: 'critical' | 'warning' | 'info'; enabled: boolean }

export function rulesView(rules: readonly RuleRow[], alerts: readonly Alert[], health: readonly RuleHealth[]): string {
  if (rules.length === 0) return 'No rules loaded.';
  const h = new Map(health.map((x) => [x.ruleId, x]));
  const lines = [`<b>${rules.length} rule(s)</b>`];
  for (const r of rules) {
    const mine = alerts.filter((a) => a.ruleId === r.id);
    const firing = mine.filter((a) => a.state === 'firing').length;
    const hh = h.get(r.id);
    const state = !r.enabled ? 'disabled' : hh?.consecutiveFailures ? `⚠️ cannot evaluate: ${esc(hh.lastError ?? '')}` : firing ? `🔥 ${firing} firing` : mine.length ? `${mine.length} pending` : hh ? 'ok' : 'not evaluated yet';
    lines.push(`${ICON[r.severity]} ${code(r.id)} ${esc(r.type)} — ${state}`);
  }
  return fit(lines);
}

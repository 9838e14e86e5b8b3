/**
 * Pure HTML views for the bot's replies: data in, Telegram HTML out (every value escaped, one
 * message ≤ 4096 visible characters). Time comes in as `now`.
 */
import type { Alert } from '../alerts/alert.js';
import type { Transition } from '../alerts/lifecycle.js';
import type { Silence } from '../alerts/silences.js';
import { escapeHtml as esc } from '../notify/telegram/html.js';
import { utc, whereHtml } from '../notify/telegram/format.js';
import type { RuleHealth } from '../store/store.js';
import { formatDuration } from '../util/duration.js';
import { fit } from './fit.js';

const ICON = { critical: '🔴', warning: '🟠', info: '🔵' } as const;
const code = (s: string) => `<code>${esc(s)}</code>`;

export { fit } from './fit.js';
export { lagView, statusView } from './status-views.js';

export function alertsView(alerts: readonly Alert[], now: number, cluster: string): string {
  if (alerts.length === 0) return '✅ No firing or pending alerts.';
  const rank = { critical: 0, warning: 1, info: 2 } as const;
  const sorted = [...alerts].sort(
    (a, b) =>
      (a.state === b.state ? 0 : a.state === 'firing' ? -1 : 1) ||
      rank[a.severity] - rank[b.severity] ||
      a.activeSince - b.activeSince,
  );
  const firing = sorted.filter((a) => a.state === 'firing').length;
  const lines = [`<b>${firing} firing, ${sorted.length - firing} pending</b>`];
  for (const a of sorted) {
    const since =
      a.state === 'firing'
        ? `firing ${formatDuration(now - (a.firedAt ?? a.activeSince))}`
        : `pending ${formatDuration(now - a.activeSince)}`;
    const ack = a.ackedBy ? ` · acked by ${esc(a.ackedBy)}` : '';
    lines.push(
      `${ICON[a.severity]} ${code(a.shortId)} <b>${esc(a.ruleId)}</b> · ${since}${ack}\n   ${esc(a.message)} · ${whereHtml(cluster, a)}`,
    );
  }
  return fit(lines, (n) => `…and ${n} more (use the short ids with /ack and /silence)`);
}

const isFailover = (t: Transition) => /failover|switchover|leader/i.test(t.ruleId);

/** /history: the last transitions, failovers first, newest first within each group. */
export function historyView(transitions: readonly Transition[], n: number): string {
  if (transitions.length === 0) return 'No transitions recorded yet.';
  const sorted = [...transitions]
    .sort((a, b) => Number(isFailover(b)) - Number(isFailover(a)) || b.at - a.at)
    .slice(0, n);
  const lines = [`<b>Last ${sorted.length} transition(s)</b> (failovers first)`];
  for (const t of sorted) {
    const icon = t.to === 'firing' ? '🔥' : t.to === 'resolved' ? '✅' : '•';
    lines.push(
      `${icon} ${utc(t.at)} ${code(t.ruleId)} ${esc(t.from)}→${esc(t.to)}${isFailover(t) ? ' <b>[failover]</b>' : ''}\n   ${esc(t.message)}`,
    );
  }
  return fit(lines);
}

export function silencesView(silences: readonly Silence[], now: number): string {
  const active = silences.filter((s) => s.endsAt > now);
  if (active.length === 0) return 'No active silences.';
  const lines = [`<b>${active.length} active silence(s)</b>`];
  for (const s of active) {
    const what = [
      s.ruleId ? `rule ${code(s.ruleId)}` : 'any rule',
      ...Object.entries(s.matchers).map(([k, v]) => `${esc(k)}=${code(v)}`),
    ].join(' ');
    lines.push(
      `🔕 ${code(s.id)} ${what}\n   until ${utc(s.endsAt)} (${formatDuration(s.endsAt - now)} left) · by ${esc(s.author)}${s.reason ? ` · ${esc(s.reason)}` : ''}`,
    );
  }
  return fit(lines);
}

export interface RuleRow {
  id: string;
  type: string;
  severity: 'critical' | 'warning' | 'info';
  enabled: boolean;
}

export function rulesView(rules: readonly RuleRow[], alerts: readonly Alert[], health: readonly RuleHealth[]): string {
  if (rules.length === 0) return 'No rules loaded.';
  const h = new Map(health.map((x) => [x.ruleId, x]));
  const lines = [`<b>${rules.length} rule(s)</b>`];
  for (const r of rules) {
    const mine = alerts.filter((a) => a.ruleId === r.id);
    const firing = mine.filter((a) => a.state === 'firing').length;
    const hh = h.get(r.id);
    const state = !r.enabled
      ? 'disabled'
      : hh?.consecutiveFailures
        ? `⚠️ cannot evaluate: ${esc(hh.lastError ?? '')}`
        : firing
          ? `🔥 ${firing} firing`
          : mine.length
            ? `${mine.length} pending`
            : hh
              ? 'ok'
              : 'not evaluated yet';
    lines.push(`${ICON[r.severity]} ${code(r.id)} ${esc(r.type)} — ${state}`);
  }
  return fit(lines);
}

/**
 * /status and /lag as Telegram HTML: pure functions of a `StatusSnapshot` and `now`. Every value
 * comes from a source; what a source does not report is shown as "no data", "unreachable" or
 * "not configured", never guessed. Lines stay short (phones); the member table is a `<pre>`.
 */
import { escapeHtml as esc, truncateText } from '../notify/telegram/html.js';
import { utc } from '../notify/telegram/format.js';
import { formatBytes } from '../sources/patroni/parse.js';
import { buildLagView, type BackendStatus, type StatusMember, type StatusSnapshot } from '../status/snapshot.js';
import { formatDuration } from '../util/duration.js';
import { fit } from './fit.js';

type SourceLine = StatusSnapshot['sources'][number];

const STATE_ICON: Record<string, string> = { ok: '🟢', 'no data': '⚪', 'not configured': '▫️', unreachable: '🔴' };
const DETAIL_MAX = 200;
/** Names (members, backends, servers) are trimmed: one absurd name must not push the rest out of the message. */
const NAME_MAX = 64;
const code = (s: string) => `<code>${esc(truncateText(s, NAME_MAX))}</code>`;
const b = (s: string) => `<b>${esc(truncateText(s, NAME_MAX))}</b>`;
/** Free text from a source (errors, reasons, states), trimmed. */
const t = (s: string) => esc(truncateText(s, DETAIL_MAX));

/** Data age as of `now`: the age when the snapshot was built plus the time since. */
const ager =
  (s: StatusSnapshot, now: number) =>
  (ms: number | undefined): string =>
    ms === undefined ? '' : ` · ${formatDuration(ms + Math.max(0, now - s.at))} old`;

const sourceOf = (s: StatusSnapshot, name: string): SourceLine =>
  s.sources.find((x) => x.name === name) ?? { name, state: 'not configured' };

/** "unreachable — timeout: … · 4s old" for a source with no usable data. */
function whyNoData(src: SourceLine, old: (ms: number | undefined) => string): string {
  return `${esc(src.state)}${src.detail ? ` — ${t(src.detail)}` : ''}${old(src.ageMs)}`;
}

const bytes = (n: number | null): string => (n === null ? 'no data' : formatBytes(n));
const seconds = (x: number): string => (x < 10 ? `${x.toFixed(1)} s` : `${Math.round(x)} s`);

const ROLE_SHORT: Record<string, string> = {
  leader: 'leader',
  standby_leader: 'stby-leader',
  sync_standby: 'sync',
  quorum_standby: 'quorum',
  replica: 'replica',
};

/** Visible characters the member table may use, so the rest of /status still fits one message. */
const TABLE_BUDGET = 2400;
const CELL_MAX = 48;

/**
 * Monospace member table (padding measured on the raw text, escaping applied after). Rows that
 * would push it over the budget are counted in a line after it instead.
 */
function memberTable(members: readonly StatusMember[]): string[] {
  const cells = (m: StatusMember) =>
    [
      m.name,
      ROLE_SHORT[m.role] ?? m.role,
      m.state,
      m.timeline === undefined ? '?' : String(m.timeline),
      m.isLeader ? '-' : bytes(m.lagBytes ?? m.pgLagBytes),
    ].map((c) => truncateText(c, CELL_MAX));
  const render = (rows: string[][]) => {
    const width = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    return rows.map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : i === 3 ? cell.padStart(width[i]!) : cell.padEnd(width[i]!)))
        .join(' ')
        .trimEnd(),
    );
  };
  let rows = [['MEMBER', 'ROLE', 'STATE', 'TL', 'LAG']];
  for (const m of members) {
    const next = [...rows, cells(m)];
    if (render(next).join('\n').length > TABLE_BUDGET) break;
    rows = next;
  }
  const left = members.length - (rows.length - 1);
  return [`<pre>${render(rows).map(esc).join('\n')}</pre>`, ...(left > 0 ? [`…and ${left} more member(s)`] : [])];
}

function patroniLines(s: StatusSnapshot, old: (ms: number | undefined) => string): string[] {
  const p = s.patroni;
  if (!p)
    return [
      `${STATE_ICON[sourceOf(s, 'patroni').state] ?? '•'} <b>Patroni</b>: ${whyNoData(sourceOf(s, 'patroni'), old)}`,
      'Leader and members: no data',
    ];
  const lines = [`<b>Patroni</b>${p.version ? ` ${t(p.version)}` : ''}${old(p.ageMs)}`];
  const tl = ` · timeline ${p.timeline === undefined ? 'no data' : p.timeline}`;
  if (!p.leader) lines.push(`🚨 <b>No leader</b>${p.leaderProblem ? `: ${t(p.leaderProblem)}` : ''}${tl}`);
  else if (!p.leaderHealthy) lines.push(`⚠️ Leader ${b(p.leader)}: ${t(p.leaderProblem ?? 'unhealthy')}${tl}`);
  else lines.push(`👑 Leader ${b(p.leader)}${tl}`);
  if (p.paused) lines.push('⏸ Paused: no automatic failover');
  if (p.scheduledSwitchover) lines.push(`🔁 Switchover scheduled: ${t(p.scheduledSwitchover)}`);
  if (p.members.length === 0) lines.push('Members: none reported');
  else lines.push(...memberTable(p.members));
  for (const m of p.members) {
    const notes: string[] = [];
    if (!m.restReachable) notes.push('REST API unreachable (state from the DCS)');
    if (!m.inDcs) notes.push('not in the DCS');
    if (m.pendingRestart) notes.push('pending restart');
    if (notes.length) lines.push(`⚠️ ${b(m.name)}: ${notes.join('; ')}`);
  }
  lines.push(
    `Failover candidates: ${p.failoverCandidates.length ? p.failoverCandidates.map(b).join(', ') : '<b>none</b>'}`,
  );
  const lp = p.lastPromotion;
  if (lp)
    lines.push(
      `Last promotion: timeline ${lp.timeline}${lp.newLeader ? ` → ${b(lp.newLeader)}` : ''}${lp.at ? ` at ${t(lp.at)}` : ''}`,
    );
  return lines;
}

/** "1 UP · 2 DOWN" (other non-routed states by their HAProxy name: MAINT, DRAIN, …). */
function counts(x: BackendStatus): string {
  const other = new Map<string, number>();
  for (const sv of x.servers) {
    if (/^(UP|no check)/.test(sv.status)) continue;
    const word = sv.status.split(/\s+/)[0] || 'UNKNOWN';
    other.set(word, (other.get(word) ?? 0) + 1);
  }
  return [`${x.up} UP`, ...[...other].map(([w, n]) => `${n} ${t(w)}`)].join(' · ');
}

function haproxyLines(s: StatusSnapshot, old: (ms: number | undefined) => string): string[] {
  const h = s.haproxy;
  if (!h)
    return [
      `${STATE_ICON[sourceOf(s, 'haproxy').state] ?? '•'} <b>HAProxy</b>: ${whyNoData(sourceOf(s, 'haproxy'), old)}`,
    ];
  const lines = [`<b>HAProxy</b>${old(h.ageMs)}`];
  const w = h.write;
  if (!w) lines.push('⚠️ Writes: write backend not found in the stats');
  else if (w.up === 0) lines.push(`🚨 Writes ${code(w.name)}: ${counts(w)} — <b>no server takes writes</b>`);
  else if (w.up > 1) lines.push(`🚨 Writes ${code(w.name)}: ${counts(w)} — <b>more than one server takes writes</b>`);
  else {
    // The server name is haproxy.cfg's; the member (matched by address) is Patroni's, when they differ.
    const member = w.upMember && w.upMember !== w.upServer ? ` (${esc(truncateText(w.upMember, NAME_MAX))})` : '';
    // Unknown is not OK: a server no member matches (odoo-ha-watch check says why) gets no ✅.
    const unknown = w.upServer !== undefined && w.upMember === undefined && s.patroni?.leader !== undefined;
    const icon = w.matchesLeader === false ? '⚠️' : unknown ? '❔' : '✅';
    const note =
      w.matchesLeader === false
        ? ' — <b>not the Patroni leader</b>'
        : unknown
          ? ' — Patroni member unknown (see <code>odoo-ha-watch check</code>)'
          : '';
    lines.push(
      `${icon} Writes ${code(w.name)}: ${counts(w)}${w.upServer ? ` → ${b(w.upServer)}${member}` : ''}${note}`,
    );
  }
  const row = (label: string, x: BackendStatus) =>
    `${x.up === 0 ? '🔴' : x.up < x.total ? '🟠' : '🟢'} ${label} ${code(x.name)}: ${counts(x)}`;
  if (h.read) lines.push(row('Reads', h.read));
  for (const a of h.apps) lines.push(row('App', a));
  return lines;
}

/** /status: leader, members, HAProxy backends, every source (Elasticsearch included) with its age, alert counts. */
export function statusView(s: StatusSnapshot, now: number = s.at): string {
  const old = ager(s, now);
  const lines = [`📊 <b>Cluster ${esc(s.cluster)}</b> — ${utc(s.at)}`];
  lines.push(`${s.alerts.firing ? '🔥' : '✅'} <b>Alerts</b>: ${s.alerts.firing} firing, ${s.alerts.pending} pending`);
  if (s.watchers) lines.push(`👀 ${esc(s.watchers)}`);
  lines.push('', ...patroniLines(s, old));
  lines.push('', ...haproxyLines(s, old));
  lines.push('', '<b>Sources</b>');
  const shown = new Set([s.patroni ? 'patroni' : '', s.haproxy ? 'haproxy' : '']);
  for (const src of s.sources) {
    // Patroni and HAProxy details are above; the others (PostgreSQL, etcd, Elasticsearch) are summed up here.
    const detail = src.detail && !(src.state === 'ok' && shown.has(src.name)) ? ` — ${t(src.detail)}` : '';
    lines.push(`${STATE_ICON[src.state] ?? '•'} ${esc(src.name)}: ${esc(src.state)}${detail}${old(src.ageMs)}`);
  }
  return fit(lines);
}

/** /lag: per replica, bytes behind (Patroni), replay delay in seconds (PostgreSQL), failover candidacy. */
export function lagView(s: StatusSnapshot, now: number = s.at): string {
  const old = ager(s, now);
  const v = buildLagView(s);
  const lines = [`📉 <b>Replication lag — ${esc(s.cluster)}</b> — ${utc(s.at)}`];
  if (v.problem || !s.patroni) {
    lines.push(`no data — patroni: ${whyNoData(sourceOf(s, 'patroni'), old)}`);
    return fit(lines);
  }
  const p = s.patroni;
  const max = v.maximumLagOnFailoverBytes ?? p.maximumLagOnFailoverBytes;
  const pg = sourceOf(s, 'postgres');
  const noDelay = pg.state === 'ok' ? 'no data' : pg.state;
  lines.push(`Leader ${v.leader ? b(v.leader) : '<b>NONE</b>'} · timeline ${v.timeline ?? 'no data'}${old(v.ageMs)}`);
  lines.push(`Failover limit: ${esc(formatBytes(max))} (maximum_lag_on_failover)`);
  lines.push('<i>lag = bytes behind (Patroni), delay = replay seconds (PostgreSQL)</i>');
  if (pg.state !== 'ok')
    lines.push(
      `delay: postgres ${esc(pg.state)}${pg.detail && pg.state === 'unreachable' ? ` — ${t(pg.detail)}` : ''}`,
    );
  lines.push('');
  if (v.replicas.length === 0) lines.push('No replicas reported.');
  for (const r of v.replicas) {
    const m = p.members.find((x) => x.name === r.member);
    const over = r.lagBytes !== null && r.lagBytes > max;
    const cand = r.failoverCandidate
      ? 'failover candidate'
      : `<b>NOT a failover candidate</b>: ${over ? `over the limit (${esc(formatBytes(r.lagBytes))} &gt; ${esc(formatBytes(max))})` : t(r.notCandidateReason ?? 'no reason reported')}`;
    const tl = m?.timeline === undefined ? '' : ` · TL ${m.timeline}`;
    const rest = m && !m.restReachable ? ' · REST API unreachable' : '';
    lines.push(
      `${r.failoverCandidate ? '✅' : '❌'} ${b(r.member)} · ${t(r.state)}${tl}${rest}\n   lag ${esc(bytes(r.lagBytes))} · delay ${r.lagSeconds === null ? esc(noDelay) : seconds(r.lagSeconds)}\n   ${cand}`,
    );
  }
  return fit(lines);
}

/**
 * The read-only status page: pure HTML from StatusPageData. No script at all, one inline style
 * allowed by its hash (strict CSP), meta refresh, a layout that stacks on a phone. Every value is
 * escaped. The lag chart is a PNG from the same server (/status/lag.png).
 */
import { createHash } from 'node:crypto';
import { formatBytes } from '../sources/patroni/parse.js';
import { formatDuration } from '../util/duration.js';
import type { StatusPageData } from './page-data.js';
import type { StatusMember } from './snapshot.js';

const esc = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const utc = (ms: number): string => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC`;

export const LAG_PNG_PATH = '/status/lag.png';

export const STYLE = `
:root{--ok:#15803d;--bad:#b91c1c;--warn:#c2410c;--mut:#6b7280;--line:#e5e7eb}
*{box-sizing:border-box}
body{margin:0;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#111827;background:#f9fafb}
header{padding:12px 16px;background:#111827;color:#fff;display:flex;flex-wrap:wrap;gap:4px 16px;align-items:baseline}
header h1{font-size:18px;margin:0}
header .sum{font-size:14px;color:#d1d5db}
main{padding:8px;display:grid;gap:8px;grid-template-columns:repeat(auto-fit,minmax(min(100%,460px),1fr))}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 12px;overflow-x:auto}
section.wide{grid-column:1/-1}
h2{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:4px 6px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--mut);font-weight:600}
.ok{color:var(--ok)}.bad{color:var(--bad);font-weight:600}.warn{color:var(--warn)}.mut{color:var(--mut)}
tr.leader td:first-child{font-weight:700}
ul{list-style:none;margin:0;padding:0}
li{padding:6px 0;border-bottom:1px solid var(--line)}
li:last-child{border-bottom:0}
.tag{display:inline-block;padding:0 6px;border-radius:4px;font-size:12px;font-weight:600;color:#fff;background:var(--mut)}
.critical{background:#dc2626}.warning{background:#ea580c}.info{background:#2563eb}
img{max-width:100%;height:auto;display:block}
code{font-size:13px}
footer{padding:8px 16px 16px;color:var(--mut);font-size:12px}
`;

/** The CSP: nothing but this page's own style and same-origin images. */
export const CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

function roleCell(m: StatusMember): string {
  const cls = m.isLeader ? 'ok' : m.role === 'unknown' ? 'bad' : '';
  return `<td class="${cls}">${esc(m.role)}${m.isLeader ? ' ★' : ''}</td>`;
}

function lagCell(m: StatusMember, max: number): string {
  if (m.isLeader) return '<td class="mut">—</td>';
  const bytes = m.lagBytes ?? m.pgLagBytes;
  const over = bytes !== null && bytes > max;
  const secs = m.lagSeconds === null ? '' : ` · ${m.lagSeconds.toFixed(1)} s`;
  return `<td class="${over ? 'bad' : ''}">${bytes === null ? '<span class="mut">unknown</span>' : esc(formatBytes(bytes))}${esc(secs)}</td>`;
}

function members(d: StatusPageData): string {
  const p = d.status.patroni;
  const src = d.status.sources.find((s) => s.name === 'patroni');
  if (!p)
    return `<section id="members"><h2>Cluster members</h2><p class="bad">No Patroni data: ${esc(src ? `${src.state}${src.detail ? ` — ${src.detail}` : ''}` : 'not configured')}</p></section>`;
  const rows = p.members.map((m) => {
    const stateCls = /^(running|streaming)$/.test(m.state) ? 'ok' : 'bad';
    const notes = [
      !m.restReachable ? 'REST API unreachable' : '',
      !m.inDcs ? 'not in DCS' : '',
      m.pendingRestart ? 'pending restart' : '',
      !m.isLeader && !m.failoverCandidate
        ? `not a failover candidate${m.notCandidateReason ? `: ${m.notCandidateReason}` : ''}`
        : '',
    ].filter(Boolean);
    return `<tr class="member${m.isLeader ? ' leader' : ''}" data-member="${esc(m.name)}" data-role="${esc(m.role)}"><td>${esc(m.name)}</td>${roleCell(m)}<td class="${stateCls}">${esc(m.state)}</td><td>${m.timeline ?? '<span class="mut">?</span>'}</td>${lagCell(m, p.maximumLagOnFailoverBytes)}<td class="warn">${esc(notes.join('; '))}</td></tr>`;
  });
  const leader = p.leader
    ? `<b id="leader">${esc(p.leader)}</b>${p.leaderHealthy ? '' : ` <span class="bad">(${esc(p.leaderProblem ?? 'unhealthy')})</span>`}`
    : '<b id="leader" class="bad">NONE</b>';
  return `<section id="members"><h2>Cluster members</h2>
<p>Leader ${leader} · timeline ${p.timeline ?? '?'}${p.paused ? ' · <span class="warn">maintenance mode (paused)</span>' : ''} · failover limit ${esc(formatBytes(p.maximumLagOnFailoverBytes))}${p.lastPromotion ? ` · last promotion: TL ${p.lastPromotion.timeline}${p.lastPromotion.newLeader ? ` → ${esc(p.lastPromotion.newLeader)}` : ''}${p.lastPromotion.at ? ` at ${esc(p.lastPromotion.at)}` : ''}` : ''}</p>
<table><thead><tr><th>Member</th><th>Role</th><th>State</th><th>TL</th><th>Lag</th><th>Notes</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></section>`;
}

function haproxy(d: StatusPageData): string {
  const h = d.status.haproxy;
  const src = d.status.sources.find((s) => s.name === 'haproxy');
  if (!h)
    return `<section id="haproxy"><h2>HAProxy</h2><p class="${src?.state === 'not configured' ? 'mut' : 'bad'}">${esc(src ? `${src.state}${src.detail ? ` — ${src.detail}` : ''}` : 'not configured')}</p></section>`;
  const rows = [
    h.write && { b: h.write, kind: 'write' },
    h.read && { b: h.read, kind: 'read' },
    ...h.apps.map((b) => ({ b, kind: 'app' })),
  ]
    .filter((x) => !!x)
    .map(({ b, kind }) => {
      // The write backend is healthy with exactly one server UP (the leader); others with all of them.
      const cls = b.up === 0 ? 'bad' : kind === 'write' ? (b.up === 1 ? 'ok' : 'bad') : b.up < b.total ? 'warn' : 'ok';
      const extra =
        kind === 'write' && h.write
          ? h.write.matchesLeader === false
            ? ' <span class="bad">≠ leader</span>'
            : h.write.upMember
              ? ` → ${esc(h.write.upMember)}`
              : ''
          : '';
      const servers = b.servers
        .map((s) => `<span class="${/^UP/.test(s.status) ? 'ok' : 'bad'}">${esc(s.name)} ${esc(s.status)}</span>`)
        .join(', ');
      return `<tr data-backend="${esc(b.name)}"><td>${esc(b.name)} <span class="mut">${kind}</span></td><td class="${cls}">${b.up}/${b.total} UP${extra}</td><td>${servers}</td></tr>`;
    });
  return `<section id="haproxy"><h2>HAProxy backends</h2><table><thead><tr><th>Backend</th><th>UP</th><th>Servers</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></section>`;
}

function alerts(d: StatusPageData): string {
  const firing = d.alerts.filter((a) => a.alert.state === 'firing').length;
  const items = d.alerts.map(({ alert: a, silencedBy }) => {
    const age =
      a.state === 'firing'
        ? `firing ${formatDuration(d.at - (a.firedAt ?? a.activeSince))}`
        : `pending ${formatDuration(d.at - a.activeSince)}`;
    const notes = [
      a.ackedBy ? `acked by ${esc(a.ackedBy)}` : '',
      silencedBy.length ? `silenced (${silencedBy.map((s) => `<code>${esc(s)}</code>`).join(', ')})` : '',
    ]
      .filter(Boolean)
      .join(' · ');
    return `<li class="alert" data-rule="${esc(a.ruleId)}" data-state="${a.state}"><span class="tag ${a.severity}">${esc(a.severity)}</span> <code>${esc(a.shortId)}</code> <b>${esc(a.ruleId)}</b> · ${age}${notes ? ` · <span class="mut">${notes}</span>` : ''}<br>${esc(a.message)}</li>`;
  });
  const sil = d.silences.map(
    (s) =>
      `<li class="silence"><code>${esc(s.id)}</code> ${s.ruleId ? `rule <b>${esc(s.ruleId)}</b>` : 'any rule'} ${Object.entries(
        s.matchers,
      )
        .map(([k, v]) => `${esc(k)}=${esc(v)}`)
        .join(' ')} · until ${utc(s.endsAt)} · by ${esc(s.author)}${s.reason ? ` · ${esc(s.reason)}` : ''}</li>`,
  );
  return `<section id="alerts"><h2>Alerts: ${firing} firing, ${d.alerts.length - firing} pending</h2>
${items.length ? `<ul>${items.join('\n')}</ul>` : '<p class="ok" id="no-alerts">No firing or pending alerts.</p>'}
${sil.length ? `<h2>Active silences</h2><ul>${sil.join('\n')}</ul>` : ''}</section>`;
}

function incidents(d: StatusPageData): string {
  const items = d.incidents.map(
    (x) =>
      `<li class="incident"><b>${esc(x.ruleId)}</b> ${utc(x.from)} → ${x.to !== undefined ? `${utc(x.to).slice(11)} (${formatDuration(x.to - x.from)})` : '<span class="bad">still firing</span>'}<br><span class="mut">${esc(x.message)}</span></li>`,
  );
  return `<section id="incidents"><h2>Last incidents</h2>${items.length ? `<ul>${items.join('\n')}</ul>` : '<p class="mut">None recorded.</p>'}</section>`;
}

export function renderStatusPage(d: StatusPageData): string {
  const s = d.status;
  const down = s.sources.filter((x) => x.state === 'unreachable').map((x) => x.name);
  const summary = `${s.alerts.firing} firing · ${s.alerts.pending} pending${down.length ? ` · unreachable: ${down.join(', ')}` : ''}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="${Math.round(d.refreshMs / 1000)}">
<meta name="referrer" content="no-referrer">
<title>${s.alerts.firing ? `(${s.alerts.firing}) ` : ''}${esc(s.cluster)} — odoo-ha-watch</title>
<style>${STYLE}</style></head>
<body><header><h1>${esc(s.cluster)}</h1><span class="sum">${esc(summary)}</span><span class="sum">${utc(d.at)}</span></header>
<main>
${members(d)}
${alerts(d)}
${haproxy(d)}
${incidents(d)}
<section id="lag" class="wide"><h2>Replication lag, last ${formatDuration(d.lagRangeMs)}</h2><img src="${LAG_PNG_PATH}?t=${d.at}" width="900" height="420" alt="replication lag per replica over the last ${formatDuration(d.lagRangeMs)}"></section>
</main>
<footer>Read-only · refreshes every ${formatDuration(d.refreshMs)} · odoo-ha-watch</footer>
</body></html>
`;
}

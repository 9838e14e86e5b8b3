import { escapeHtml as esc } from '../../notify/telegram/html.js';
import { parseCount } from '../args.js';
import { alertsView, historyView, lagView, rulesView, silencesView, statusView } from '../views.js';
import type { Command } from './types.js';
import { historyTimeline } from '../../charts/history.js';
import { lagChartPng, replicaKeys } from '../../charts/lag.js';
import { timelinePng } from '../../charts/timeline.js';
import { SERIES } from '../../series/samples.js';
import { formatDuration, parseDuration } from '../../util/duration.js';

export const usageLine = (c: Command) => `Usage: <code>${esc(c.usage)}</code>`;

export const status: Command = {
  name: 'status',
  description: 'Cluster picture: leader, members, HAProxy, Elasticsearch, alerts',
  usage: '/status',
  mutating: false,
  run: async ({ deps }) => statusView(await deps.status(), deps.now()),
};

/** `/lag 6h`, `/history 7d`: a range between 5 minutes and the series retention. */
export function parseRange(
  raw: string | undefined,
  def: number,
  max: number,
): { ok: true; value: number } | { ok: false; error: string } {
  if (raw === undefined || raw === '') return { ok: true, value: def };
  const ms = parseDuration(raw);
  if (ms === undefined) return { ok: false, error: `"${raw}" is not a time range (e.g. 30m, 6h, 2d)` };
  if (ms < 300_000 || ms > max)
    return { ok: false, error: `range must be between 5m and ${formatDuration(max)} (state.series.retention)` };
  return { ok: true, value: ms };
}

export const lag: Command = {
  name: 'lag',
  description: 'Replication lag per replica: chart and current numbers',
  usage: '/lag [range]  (e.g. 6h, 2d; default 1h)',
  mutating: false,
  async run({ deps, args }) {
    const range = parseRange(args.trim().split(/\s+/)[0], 3_600_000, deps.config().state.series.retention);
    if (!range.ok) return `${esc(range.error)}\n${usageLine(lag)}`;
    const status = await deps.status();
    const html = lagView(status, deps.now());
    if (!deps.config().state.series.enabled) return html;
    const to = deps.now();
    const from = to - range.value;
    const samples = await deps.store.samples([SERIES.lagBytes, SERIES.lagSeconds, SERIES.leader], from, to);
    const png = lagChartPng({
      cluster: status.cluster,
      from,
      to,
      samples,
      ...(status.patroni ? { thresholdBytes: status.patroni.maximumLagOnFailoverBytes } : {}),
    });
    return {
      html,
      photo: {
        png,
        filename: 'lag.png',
        caption: `Replication lag, last ${formatDuration(range.value)} (${replicaKeys(samples).length} replica(s))`,
      },
    };
  },
};

export const alerts: Command = {
  name: 'alerts',
  description: 'Firing and pending alerts with age and short ids',
  usage: '/alerts',
  mutating: false,
  run: async ({ deps }) =>
    alertsView(await deps.store.listAlerts(['firing', 'pending']), deps.now(), deps.config().cluster.name),
};

export const history: Command = {
  name: 'history',
  description: 'Incidents and failovers: timeline chart and last transitions',
  usage: '/history [n|range]  (n 1–50, default 10; range e.g. 7d, default 24h)',
  mutating: false,
  async run({ deps, args }) {
    const arg = args.trim().split(/\s+/)[0];
    const isRange = arg !== undefined && /^\d+[a-z]/.test(arg);
    const n = parseCount(isRange ? undefined : arg, 10, 50);
    if (!n.ok) return `${esc(n.error)}\n${usageLine(history)}`;
    const range = parseRange(
      isRange ? arg : undefined,
      86_400_000,
      Math.max(deps.config().state.series.retention, deps.config().evaluation.resolved_retention),
    );
    if (!range.ok) return `${esc(range.error)}\n${usageLine(history)}`;
    const transitions = await deps.store.history(Math.max(500, n.value));
    const html = historyView(transitions, n.value);
    const to = deps.now();
    const from = to - range.value;
    const samples = deps.config().state.series.enabled ? await deps.store.samples(SERIES.leader, from, to) : [];
    const severity = new Map(deps.rules().map((r) => [r.id, r.severity]));
    const input = historyTimeline({
      cluster: deps.config().cluster.name,
      from,
      to,
      transitions,
      samples,
      severityOf: (id) => severity.get(id),
    });
    // An empty timeline says nothing the text does not: no picture then.
    if (input.bars.length === 0 && input.marks.length === 0) return html;
    return {
      html,
      photo: {
        png: timelinePng(input),
        filename: 'history.png',
        caption: `Incidents and failovers, last ${formatDuration(range.value)}: ${input.bars.length} incident(s), ${input.marks.length} failover(s)`,
      },
    };
  },
};

export const silences: Command = {
  name: 'silences',
  description: 'Active silences',
  usage: '/silences',
  mutating: false,
  run: async ({ deps }) => silencesView(await deps.store.listSilences({ now: deps.now() }), deps.now()),
};

export const rules: Command = {
  name: 'rules',
  description: 'Loaded rules and their state',
  usage: '/rules',
  mutating: false,
  run: async ({ deps }) =>
    rulesView(deps.rules(), await deps.store.listAlerts(['firing', 'pending']), await deps.store.ruleHealth()),
};

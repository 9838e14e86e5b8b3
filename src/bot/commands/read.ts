import { escapeHtml as esc } from '../../notify/telegram/html.js';
import { parseCount } from '../args.js';
import { alertsView, historyView, lagView, rulesView, silencesView, statusView } from '../views.js';
import type { Command } from './types.js';

export const usageLine = (c: Command) => `Usage: <code>${esc(c.usage)}</code>`;

export const status: Command = {
  name: 'status', description: 'Cluster picture: leader, members, HAProxy, Elasticsearch, alerts', usage: '/status', mutating: false,
  run: async ({ deps }) => statusView(await deps.status(), deps.now()),
};

export const lag: Command = {
  name: 'lag', description: 'Replication lag per replica and failover candidacy', usage: '/lag', mutating: false,
  run: async ({ deps }) => lagView(await deps.status(), deps.now()),
};

export const alerts: Command = {
  name: 'alerts', description: 'Firing and pending alerts with age and short ids', usage: '/alerts', mutating: false,
  run: async ({ deps }) => alertsView(await deps.store.listAlerts(['firing', 'pending']), deps.now(), deps.config().cluster.name),
};

export const history: Command = {
  name: 'history', description: 'Last alert transitions, failovers first', usage: '/history [n]  (1–50, default 10)', mutating: false,
  async run({ deps, args }) {
    const n = parseCount(args.trim().split(/\s+/)[0], 10, 50);
    if (!n.ok) return `${esc(n.error)}\n${usageLine(history)}`;
    return historyView(await deps.store.history(Math.max(200, n.value)), n.value);
  },
};

export const silences: Command = {
  name: 'silences', description: 'Active silences', usage: '/silences', mutating: false,
  run: async ({ deps }) => silencesView(await deps.store.listSilences({ now: deps.now() }), deps.now()),
};

export const rules: Command = {
  name: 'rules', description: 'Loaded rules and their state', usage: '/rules', mutating: false,
  run: async ({ deps }) => rulesView(deps.rules(), await deps.store.listAlerts(['firing', 'pending']), await deps.store.ruleHealth()),
};

import type { Config } from '../config/schema.js';
import type { Sources } from '../sources/sources.js';
import type { StateStore } from '../store/store.js';

/** What /status and `odoo-ha-watch status` show. Each part says how old its data is, or why there is none. */
export interface StatusSnapshot {
  cluster: string;
  at: number;
  alerts: { firing: number; pending: number };
  /** One entry per configured or expected source, in display order. */
  sources: { name: string; state: 'ok' | 'no data' | 'not configured' | 'unreachable'; detail?: string; ageMs?: number }[];
}

/** Builds the snapshot from the live sources. Sources arrive with their own issues; until then they report "not configured". */
export async function buildStatus(config: Config, _sources: Sources, store: StateStore, now = Date.now()): Promise<StatusSnapshot> {
  const alerts = await store.listAlerts(['pending', 'firing']);
  const configured = config.sources;
  const sources: StatusSnapshot['sources'] = (['patroni', 'haproxy', 'postgres', 'etcd', 'elasticsearch'] as const).map((name) =>
    configured[name] ? { name, state: 'no data', detail: 'this build does not poll it yet' } : { name, state: 'not configured' },
  );
  return {
    cluster: config.cluster.name,
    at: now,
    alerts: { firing: alerts.filter((a) => a.state === 'firing').length, pending: alerts.filter((a) => a.state === 'pending').length },
    sources,
  };
}

export function formatStatusText(s: StatusSnapshot): string {
  const lines = [`Cluster ${s.cluster} — ${new Date(s.at).toISOString()}`, `Alerts: ${s.alerts.firing} firing, ${s.alerts.pending} pending`];
  for (const src of s.sources) lines.push(`${src.name}: ${src.state}${src.detail ? ` (${src.detail})` : ''}`);
  return lines.join('\n');
}

/**
 * What the status page shows, gathered from the live sources and the store (I/O here, rendering in
 * page.ts). Each alert says which silences mute it and who acked it.
 */
import type { Alert } from '../alerts/alert.js';
import { silenceMatches, type Silence } from '../alerts/silences.js';
import { incidents } from '../charts/history.js';
import type { Config } from '../config/schema.js';
import type { Sources } from '../sources/sources.js';
import type { StateStore } from '../store/store.js';
import { buildStatus, type StatusSnapshot } from './snapshot.js';

export interface PageAlert {
  alert: Alert;
  silencedBy: string[];
}
export interface PageIncident {
  ruleId: string;
  from: number;
  to?: number;
  message: string;
}

export interface StatusPageData {
  at: number;
  refreshMs: number;
  lagRangeMs: number;
  status: StatusSnapshot;
  alerts: PageAlert[];
  silences: Silence[];
  /** Newest first. */
  incidents: PageIncident[];
}

export const PAGE_INCIDENTS = 10;

export async function buildPageData(
  config: Config,
  sources: Sources,
  store: StateStore,
  now: number,
): Promise<StatusPageData> {
  const [status, alerts, silences, transitions] = await Promise.all([
    buildStatus(config, sources, store, now),
    store.listAlerts(['firing', 'pending']),
    store.listSilences({ now }),
    store.history(500),
  ]);
  const rank = { critical: 0, warning: 1, info: 2 } as const;
  const sorted = [...alerts].sort(
    (a, b) =>
      (a.state === b.state ? 0 : a.state === 'firing' ? -1 : 1) ||
      rank[a.severity] - rank[b.severity] ||
      a.activeSince - b.activeSince,
  );
  return {
    at: now,
    refreshMs: config.http.status_page.refresh,
    lagRangeMs: config.http.status_page.lag_range,
    status,
    alerts: sorted.map((a) => ({
      alert: a,
      silencedBy: silences.filter((s) => silenceMatches(s, a.ruleId, a.labels, now)).map((s) => s.id),
    })),
    silences,
    incidents: incidents(transitions, 0)
      .filter((x) => x.from > 0)
      .sort((a, b) => b.from - a.from)
      .slice(0, PAGE_INCIDENTS)
      .map(({ ruleId, from, to, message }) => ({ ruleId, from, ...(to !== undefined ? { to } : {}), message })),
  };
}

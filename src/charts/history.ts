/**
 * /history as a picture: incidents (firing → resolved, per alert) as bars in their rule's lane,
 * coloured by severity, and failovers (leader changes from the time series) as diamonds in the
 * "leader" lane. Pure: transitions and samples in, timeline input out.
 */
import type { Transition } from '../alerts/lifecycle.js';
import type { Severity } from '../config/zod-types.js';
import type { Sample } from '../store/store.js';
import { leaderChanges } from './lag.js';
import {
  FAILOVER_COLOUR,
  SEVERITY_COLOUR,
  timelinePng,
  type TimelineBar,
  type TimelineInput,
  type TimelineMark,
} from './timeline.js';

export interface HistoryChartInput {
  cluster: string;
  from: number;
  to: number;
  /** Transitions in any order (the store gives newest first). */
  transitions: readonly Transition[];
  /** `leader` samples over the range (failovers). */
  samples: readonly Sample[];
  severityOf: (ruleId: string) => Severity | undefined;
}

export const LEADER_LANE = 'leader (failovers)';

/** Incidents: each firing until its resolve (or still open). A resolve whose firing is before the range starts at the left edge. */
export function incidents(
  transitions: readonly Transition[],
  from: number,
): { fingerprint: string; ruleId: string; from: number; to?: number; message: string }[] {
  const open = new Map<string, { fingerprint: string; ruleId: string; from: number; to?: number; message: string }>();
  const out: { fingerprint: string; ruleId: string; from: number; to?: number; message: string }[] = [];
  for (const t of [...transitions].sort((a, b) => a.at - b.at)) {
    if (t.to === 'firing' && !open.has(t.fingerprint)) {
      const inc = { fingerprint: t.fingerprint, ruleId: t.ruleId, from: t.at, message: t.message };
      open.set(t.fingerprint, inc);
      out.push(inc);
    } else if (t.to === 'resolved') {
      const inc = open.get(t.fingerprint);
      if (inc) inc.to = t.at;
      else out.push({ fingerprint: t.fingerprint, ruleId: t.ruleId, from, to: t.at, message: t.message });
      open.delete(t.fingerprint);
    }
  }
  return out;
}

export function historyTimeline(i: HistoryChartInput): TimelineInput {
  const incs = incidents(i.transitions, i.from).filter((x) => (x.to ?? i.to) >= i.from && x.from <= i.to);
  const bars: TimelineBar[] = incs.map((x) => ({
    lane: x.ruleId,
    from: x.from,
    ...(x.to !== undefined ? { to: x.to } : {}),
    color: SEVERITY_COLOUR[i.severityOf(x.ruleId) ?? 'warning'],
  }));
  const marks: TimelineMark[] = leaderChanges(i.samples)
    .filter((c) => c.at >= i.from && c.at <= i.to)
    .map((c) => ({ lane: LEADER_LANE, at: c.at, color: FAILOVER_COLOUR, label: `→ ${c.leader}` }));
  const open = incs.filter((x) => x.to === undefined).length;
  return {
    title: `Incidents and failovers — ${i.cluster}`,
    subtitle: `${new Date(i.from).toISOString().slice(0, 16).replace('T', ' ')} → ${new Date(i.to).toISOString().slice(11, 16)} UTC · ${incs.length} incident(s), ${open} still open, ${marks.length} failover(s)`,
    from: i.from,
    to: i.to,
    bars,
    marks,
  };
}

export const historyChartPng = (i: HistoryChartInput): Buffer => timelinePng(historyTimeline(i));

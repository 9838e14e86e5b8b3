/**
 * What the time series keeps, derived purely from what was polled: a status snapshot (cluster
 * sources) or a rule evaluation (log rules). Numbers only; a value that is unknown is not recorded
 * (a gap in the chart, never a made-up zero).
 */
import type { Evaluation, Rule } from '../rules/rule-type.js';
import type { StatusSnapshot } from '../status/snapshot.js';
import type { Sample } from '../store/store.js';

export const SERIES = {
  /** Replay lag per replica, bytes behind the leader (Patroni's view, else direct SQL). key = member. */
  lagBytes: 'lag_bytes',
  /** Replay delay per replica, seconds (direct SQL). key = member. */
  lagSeconds: 'lag_seconds',
  /** 1 for the member that is leader at that moment. key = member. */
  leader: 'leader',
  /** Patroni timeline. key = ''. */
  timeline: 'timeline',
  /** UP servers per HAProxy backend. key = backend. */
  haproxyUp: 'haproxy_up',
  /** Findings of a log rule's evaluation (groups over threshold, or matching lines when the rule reports a count). key = rule id. */
  ruleCount: 'rule_count',
} as const;

export function samplesFromStatus(s: StatusSnapshot, at: number): Sample[] {
  const out: Sample[] = [];
  const p = s.patroni;
  if (p) {
    for (const m of p.members) {
      if (m.isLeader) {
        out.push({ series: SERIES.leader, key: m.name, at, value: 1 });
        continue;
      }
      const bytes = m.lagBytes ?? m.pgLagBytes;
      if (bytes !== null) out.push({ series: SERIES.lagBytes, key: m.name, at, value: bytes });
      if (m.lagSeconds !== null) out.push({ series: SERIES.lagSeconds, key: m.name, at, value: m.lagSeconds });
    }
    if (p.timeline !== undefined) out.push({ series: SERIES.timeline, key: '', at, value: p.timeline });
  }
  const h = s.haproxy;
  if (h)
    for (const b of [h.write, h.read, ...h.apps])
      if (b) out.push({ series: SERIES.haproxyUp, key: b.name, at, value: b.up });
  return out;
}

/**
 * A log rule's evaluation as one number: the sum of its findings' `count` values (matching lines)
 * when they carry one, else the number of findings. A failed evaluation records nothing.
 */
export function sampleFromEvaluation(rule: Pick<Rule, 'id'>, ev: Evaluation, at: number): Sample | undefined {
  if (!ev.ok) return undefined;
  let value = 0;
  for (const f of ev.findings) value += typeof f.values['count'] === 'number' ? f.values['count'] : 1;
  return { series: SERIES.ruleCount, key: rule.id, at, value };
}

import type { Severity } from '../config/zod-types.js';
import type { Finding, Labels } from '../rules/rule-type.js';
import { fingerprintOf, shortIdOf, type Alert, type AlertState } from './alert.js';
import type { NotifiedAlert } from './notification.js';

/** What the lifecycle needs to know about a rule; times in ms. */
export interface LifecycleRule {
  id: string;
  severity: Severity;
  labels: Labels;
  for: number;
  keepFiringFor: number;
  /** 0 = never repeat. */
  repeat: number;
}

export interface Transition {
  fingerprint: string;
  ruleId: string;
  labels: Labels;
  from: AlertState | 'inactive';
  to: AlertState | 'inactive';
  at: number;
  message: string;
}

export interface StepInput {
  rule: LifecycleRule;
  /** The rule's current alerts (any state) from the store. */
  current: readonly Alert[];
  findings: readonly Finding[];
  now: number;
  render: (f: Finding, labels: Labels) => string;
  isMuted: (labels: Labels) => boolean;
  /** Only alerts whose fingerprint passes are considered absent when not found (default: all of the rule's). */
  inScope?: (a: Alert) => boolean;
}

export interface StepResult {
  upserts: Alert[];
  /** Pending alerts whose condition cleared before `for` elapsed: they never existed as far as anyone was told. */
  deletes: string[];
  firing: NotifiedAlert[];
  resolved: NotifiedAlert[];
  transitions: Transition[];
}

const notified = (a: Alert, repeat: boolean): NotifiedAlert => ({
  fingerprint: a.fingerprint,
  shortId: a.shortId,
  labels: a.labels,
  values: a.values,
  message: a.message,
  ...(a.samples ? { samples: a.samples } : {}),
  activeSince: a.activeSince,
  ...(a.firedAt !== undefined ? { firedAt: a.firedAt } : {}),
  ...(a.resolvedAt !== undefined ? { resolvedAt: a.resolvedAt } : {}),
  repeat,
});

/**
 * One evaluation's effect on one rule's alerts: a pure function of the stored alerts, the
 * findings and the clock. Notifications go out on transitions and on `repeat` only.
 */
export function step(input: StepInput): StepResult {
  const { rule, now } = input;
  const out: StepResult = { upserts: [], deletes: [], firing: [], resolved: [], transitions: [] };
  const byFp = new Map(input.current.map((a) => [a.fingerprint, a]));
  const seen = new Set<string>();

  for (const f of input.findings) {
    const labels = { ...rule.labels, ...f.labels };
    const fp = fingerprintOf(rule.id, labels);
    if (seen.has(fp)) continue; // two findings with the same labels are one alert
    seen.add(fp);
    const prev = byFp.get(fp);
    const live = prev && prev.state !== 'resolved' ? prev : undefined;
    const message = input.render(f, labels);
    let a: Alert = live
      ? { ...live, lastSeenAt: now, values: f.values, message, severity: rule.severity }
      : { fingerprint: fp, shortId: shortIdOf(fp), ruleId: rule.id, labels, state: 'pending', severity: rule.severity, activeSince: now, lastSeenAt: now, message, values: f.values };
    if (f.samples) a.samples = f.samples;
    else delete a.samples;
    if (!live) out.transitions.push({ fingerprint: fp, ruleId: rule.id, labels, from: 'inactive', to: 'pending', at: now, message });

    if (a.state === 'pending' && now - a.activeSince >= rule.for) {
      a = { ...a, state: 'firing', firedAt: now };
      out.transitions.push({ fingerprint: fp, ruleId: rule.id, labels, from: 'pending', to: 'firing', at: now, message });
    }
    if (a.state === 'firing' && !input.isMuted(labels)) {
      if (a.notifiedAt === undefined) {
        a = { ...a, notifiedAt: now, lastNotifiedAt: now };
        out.firing.push(notified(a, false));
      } else if (a.ackedAt === undefined && rule.repeat > 0 && now - (a.lastNotifiedAt ?? a.notifiedAt) >= rule.repeat) {
        a = { ...a, lastNotifiedAt: now };
        out.firing.push(notified(a, true));
      }
    }
    out.upserts.push(a);
  }

  for (const a of input.current) {
    if (seen.has(a.fingerprint) || a.state === 'resolved') continue;
    if (input.inScope && !input.inScope(a)) continue;
    if (a.state === 'pending') {
      out.deletes.push(a.fingerprint);
      out.transitions.push({ fingerprint: a.fingerprint, ruleId: a.ruleId, labels: a.labels, from: 'pending', to: 'inactive', at: now, message: a.message });
      continue;
    }
    if (now - a.lastSeenAt < rule.keepFiringFor) continue; // hysteresis: not resolved yet
    const { ackedAt: _ackedAt, ackedBy: _ackedBy, ...rest } = a;
    const r: Alert = { ...rest, state: 'resolved', resolvedAt: now };
    out.transitions.push({ fingerprint: a.fingerprint, ruleId: a.ruleId, labels: a.labels, from: 'firing', to: 'resolved', at: now, message: a.message });
    if (a.notifiedAt !== undefined && !input.isMuted(a.labels)) out.resolved.push(notified(r, false));
    out.upserts.push(r);
  }
  return out;
}

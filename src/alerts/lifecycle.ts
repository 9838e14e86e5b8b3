import type { Severity } from '../config/zod-types.js';
import type { Finding, Labels } from '../rules/rule-type.js';
import { addToStory, fingerprintOf, shortIdOf, type Alert, type AlertState } from './alert.js';
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
  /** The RESOLVED line of an alert that cleared: what recovered (default: its last message). */
  recovered?: (a: Alert) => string;
}

export interface StepResult {
  upserts: Alert[];
  /** Pending alerts whose condition cleared before `for` elapsed: they never existed as far as anyone was told. */
  deletes: string[];
  firing: NotifiedAlert[];
  /** Firing alerts whose incident moved on (phase) or whose live message changed: told in their thread. */
  updates: NotifiedAlert[];
  resolved: NotifiedAlert[];
  transitions: Transition[];
}

const notified = (a: Alert, repeat: boolean, extra: Partial<NotifiedAlert> = {}): NotifiedAlert => ({
  fingerprint: a.fingerprint,
  shortId: a.shortId,
  labels: a.labels,
  values: a.values,
  message: a.message,
  ...(a.samples ? { samples: a.samples } : {}),
  activeSince: a.activeSince,
  ...(a.firedAt !== undefined ? { firedAt: a.firedAt } : {}),
  ...(a.resolvedAt !== undefined ? { resolvedAt: a.resolvedAt } : {}),
  ...(a.phase !== undefined ? { phase: a.phase } : {}),
  ...(a.story ? { story: a.story } : {}),
  ...(a.announce ? { announce: true } : {}),
  lastSeenAt: a.lastSeenAt,
  repeat,
  ...extra,
});

/**
 * One evaluation's effect on one rule's alerts: a pure function of the stored alerts, the
 * findings and the clock. Notifications go out on transitions and on `repeat` only.
 */
export function step(input: StepInput): StepResult {
  const { rule, now } = input;
  const out: StepResult = { upserts: [], deletes: [], firing: [], updates: [], resolved: [], transitions: [] };
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
      : {
          fingerprint: fp,
          shortId: shortIdOf(fp),
          ruleId: rule.id,
          labels,
          state: 'pending',
          severity: rule.severity,
          activeSince: now,
          lastSeenAt: now,
          message,
          values: f.values,
        };
    if (f.samples) a.samples = f.samples;
    else delete a.samples;
    if (f.phase !== undefined) a.phase = f.phase;
    if (f.announce) a.announce = true;
    else delete a.announce;
    if (!live)
      out.transitions.push({
        fingerprint: fp,
        ruleId: rule.id,
        labels,
        from: 'inactive',
        to: 'pending',
        at: now,
        message,
      });

    if (a.state === 'pending' && now - a.activeSince >= rule.for) {
      a = { ...a, state: 'firing', firedAt: now };
      out.transitions.push({
        fingerprint: fp,
        ruleId: rule.id,
        labels,
        from: 'pending',
        to: 'firing',
        at: now,
        message,
      });
    }
    if (a.state === 'firing' && !input.isMuted(labels)) {
      const phaseChanged = live?.notifiedAt !== undefined && f.phase !== undefined && f.phase !== live.phase;
      if (a.notifiedAt === undefined) {
        a = {
          ...a,
          notifiedAt: now,
          lastNotifiedAt: now,
          ...(a.phase !== undefined
            ? { story: addToStory(undefined, { phase: a.phase, at: now, text: message }) }
            : {}),
        };
        out.firing.push(notified(a, false));
      } else if (phaseChanged) {
        // The incident moved on: told in its thread, and it counts as a notification for `repeat`.
        a = { ...a, lastNotifiedAt: now, story: addToStory(a.story, { phase: a.phase!, at: now, text: message }) };
        out.updates.push(notified(a, false, { phaseChanged: true, attention: f.attention === true }));
      } else if (
        !a.announce &&
        a.ackedAt === undefined &&
        rule.repeat > 0 &&
        now - (a.lastNotifiedAt ?? a.notifiedAt) >= rule.repeat
      ) {
        a = { ...a, lastNotifiedAt: now };
        out.firing.push(notified(a, true));
      } else if (f.live && live && message !== live.message) {
        out.updates.push(notified(a, false, { phaseChanged: false, attention: false }));
      }
    }
    out.upserts.push(a);
  }

  for (const a of input.current) {
    if (seen.has(a.fingerprint) || a.state === 'resolved') continue;
    if (input.inScope && !input.inScope(a)) continue;
    if (a.state === 'pending') {
      out.deletes.push(a.fingerprint);
      out.transitions.push({
        fingerprint: a.fingerprint,
        ruleId: a.ruleId,
        labels: a.labels,
        from: 'pending',
        to: 'inactive',
        at: now,
        message: a.message,
      });
      continue;
    }
    if (now - a.lastSeenAt < rule.keepFiringFor) continue; // hysteresis: not resolved yet
    const { ackedAt: _ackedAt, ackedBy: _ackedBy, ...rest } = a;
    const closed: Alert = { ...rest, state: 'resolved', resolvedAt: now };
    const text = input.recovered ? input.recovered(closed) : a.message;
    const r: Alert = {
      ...closed,
      message: text,
      ...(a.story ? { phase: 'recovered', story: addToStory(a.story, { phase: 'recovered', at: now, text }) } : {}),
    };
    out.transitions.push({
      fingerprint: a.fingerprint,
      ruleId: a.ruleId,
      labels: a.labels,
      from: 'firing',
      to: 'resolved',
      at: now,
      message: text,
    });
    // An announcement (a planned switchover) was the whole story: its end is not news.
    if (a.notifiedAt !== undefined && !a.announce && !input.isMuted(a.labels)) out.resolved.push(notified(r, false));
    out.upserts.push(r);
  }
  return out;
}

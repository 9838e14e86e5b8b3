import type { Labels } from '../rules/rule-type.js';

export interface Silence {
  id: string;
  /** Rule id to silence, or absent to match any rule. */
  ruleId?: string;
  /** Every matcher must equal the alert's label (an empty value matches a missing label). */
  matchers: Labels;
  startsAt: number;
  endsAt: number;
  author: string;
  reason: string;
  createdAt: number;
}

export type SilenceState = 'pending' | 'active' | 'expired';

export function silenceState(s: Silence, now: number): SilenceState {
  if (now < s.startsAt) return 'pending';
  return now < s.endsAt ? 'active' : 'expired';
}

export function silenceMatches(s: Silence, ruleId: string, labels: Labels, now: number): boolean {
  if (silenceState(s, now) !== 'active') return false;
  if (s.ruleId !== undefined && s.ruleId !== ruleId) return false;
  return Object.entries(s.matchers).every(([k, v]) => (labels[k] ?? '') === v);
}

/** The silence muting this alert, if any: notifications are withheld, state still advances. */
export function findSilence(
  silences: readonly Silence[],
  ruleId: string,
  labels: Labels,
  now: number,
): Silence | undefined {
  return silences.find((s) => silenceMatches(s, ruleId, labels, now));
}

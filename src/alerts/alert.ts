import { createHash } from 'node:crypto';
import type { Severity } from '../config/zod-types.js';
import type { Labels, Values } from '../rules/rule-type.js';

export type AlertState = 'pending' | 'firing' | 'resolved';

/** One alert: a rule's finding with a given label set, through one episode of trouble. Times are epoch ms. */
export interface Alert {
  fingerprint: string;
  /** Short, stable, human-typable id for /ack and /silence (first hex digits of the fingerprint). */
  shortId: string;
  ruleId: string;
  labels: Labels;
  state: AlertState;
  severity: Severity;
  /** When the condition was first seen in this episode: `for` counts from here, across restarts. */
  activeSince: number;
  firedAt?: number;
  /** Last evaluation that saw the condition: `keep_firing_for` counts from here. */
  lastSeenAt: number;
  resolvedAt?: number;
  /** Set once a firing notification was queued: only then is a resolve worth sending. */
  notifiedAt?: number;
  lastNotifiedAt?: number;
  ackedBy?: string;
  ackedAt?: number;
  message: string;
  values: Values;
  samples?: string[];
}

/** fingerprint = rule id + sorted labels: the same trouble keeps the same identity across restarts. */
export function fingerprintOf(ruleId: string, labels: Labels): string {
  const canon = JSON.stringify([ruleId, Object.keys(labels).sort().map((k) => [k, labels[k]])]);
  return createHash('sha256').update(canon).digest('hex').slice(0, 16);
}

export function shortIdOf(fingerprint: string): string {
  return fingerprint.slice(0, 6);
}

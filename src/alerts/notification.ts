import type { Severity } from '../config/zod-types.js';
import type { Labels, Values } from '../rules/rule-type.js';
import type { StoryEntry } from './alert.js';

/**
 * firing: a first page or a reminder; update: the incident moved on (a new phase, or a live alert's
 * running count) — told in the first message's thread; resolved: what recovered.
 */
export type NotificationKind = 'firing' | 'update' | 'resolved';

export interface NotifiedAlert {
  fingerprint: string;
  shortId: string;
  labels: Labels;
  values: Values;
  message: string;
  samples?: string[];
  activeSince: number;
  firedAt?: number;
  resolvedAt?: number;
  /** True when this alert was already announced and this is a reminder (`repeat`). */
  repeat: boolean;
  phase?: string;
  story?: StoryEntry[];
  /** update: the phase changed (else only the running message did). */
  phaseChanged?: boolean;
  /** update: this phase needs someone now (a reply, which notifies), not only an edit. */
  attention?: boolean;
  announce?: boolean;
  /** When the condition was last seen (a live log alert's last match). */
  lastSeenAt?: number;
}

/**
 * What one evaluation of one rule has to say: all its new/reminded firing alerts in one
 * message, all its resolved alerts in another. Rendered by each notifier at send time.
 */
export interface Notification {
  /** Idempotency key: rule id + evaluation time + kind. */
  key: string;
  kind: NotificationKind;
  cluster: string;
  rule: { id: string; name: string; type: string; severity: Severity; description?: string; runbook?: string };
  /** Labels shared by every alert (rule labels), for routing. */
  commonLabels: Labels;
  alerts: NotifiedAlert[];
  at: number;
  /**
   * Set only when several watchers run and etcd is unreachable (fail open): the watcher that sent
   * this copy, so the on-call engineer knows why the same page may arrive once per watcher.
   */
  via?: string;
}

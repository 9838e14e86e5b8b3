import type { Severity } from '../config/zod-types.js';
import { fingerprintOf, shortIdOf } from './alert.js';
import type { Notification, NotificationKind } from './notification.js';

/**
 * A notification about the watcher itself (its state store, its rule set), shaped like any rule's so
 * every notifier renders it without special cases. The id doubles as the alert's identity, so a
 * "restored" message threads to its "degraded" one.
 */
export function systemNotification(o: {
  cluster: string;
  id: string;
  name: string;
  severity: Severity;
  kind: NotificationKind;
  message: string;
  now: number;
  since?: number;
  runbook?: string;
}): Notification {
  const fingerprint = fingerprintOf(o.id, {});
  const since = o.since ?? o.now;
  return {
    key: `${o.id}:${o.now}:${o.kind}`,
    kind: o.kind,
    cluster: o.cluster,
    rule: {
      id: o.id,
      name: o.name,
      type: 'internal',
      severity: o.severity,
      ...(o.runbook ? { runbook: o.runbook } : {}),
    },
    commonLabels: {},
    alerts: [
      {
        fingerprint,
        shortId: shortIdOf(fingerprint),
        labels: {},
        values: {},
        message: o.message,
        activeSince: since,
        firedAt: since,
        ...(o.kind === 'resolved' ? { resolvedAt: o.now } : {}),
        repeat: false,
      },
    ],
    at: o.now,
  };
}

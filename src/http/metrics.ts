import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The service's own metrics; one registry per app instance so tests don't share counters. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ohw_process_' });
  const m = {
    registry,
    evaluations: new Counter({
      name: 'ohw_rule_evaluations_total',
      help: 'Rule evaluations by outcome',
      labelNames: ['rule', 'outcome'] as const,
      registers: [registry],
    }),
    evaluationDuration: new Histogram({
      name: 'ohw_rule_evaluation_duration_seconds',
      help: 'Rule evaluation duration',
      labelNames: ['rule'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    evaluationsSkipped: new Counter({
      name: 'ohw_rule_evaluations_skipped_total',
      help: 'Ticks skipped because the previous evaluation of the rule was still running',
      labelNames: ['rule'] as const,
      registers: [registry],
    }),
    clusterEvents: new Counter({
      name: 'ohw_cluster_events_total',
      help: 'Cluster events (PostgreSQL sentinel connection closed, Patroni leader key changed) that made the cluster rules evaluate at once',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    sourceErrors: new Counter({
      name: 'ohw_source_errors_total',
      help: 'Failed evaluations by source',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    alerts: new Gauge({
      name: 'ohw_alerts',
      help: 'Alerts by state',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    notificationsSent: new Counter({
      name: 'ohw_notifications_sent_total',
      help: 'Notifications delivered',
      labelNames: ['receiver'] as const,
      registers: [registry],
    }),
    notificationsFailed: new Counter({
      name: 'ohw_notifications_failed_total',
      help: 'Notification attempts that failed',
      labelNames: ['receiver', 'retryable'] as const,
      registers: [registry],
    }),
    notificationsQueued: new Gauge({
      name: 'ohw_notifications_queued',
      help: 'Outbox items by state',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    rulesLoaded: new Gauge({ name: 'ohw_rules_loaded', help: 'Rules in the running rule set', registers: [registry] }),
    reloads: new Counter({
      name: 'ohw_rule_reloads_total',
      help: 'Rule reloads by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

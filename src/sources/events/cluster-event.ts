/**
 * Something in the cluster changed that the polls would only see at their next tick: a PostgreSQL
 * server closed its connection (crash, kill, shutdown), or Patroni's leader key in etcd was written
 * or removed (a new leader took the lock, the old one released it or its lease expired). An event
 * is a hint, never a finding: it makes the cluster rules evaluate at once, and only what their fresh
 * polls then show can fire or resolve an alert.
 */
export interface ClusterEvent {
  source: 'postgres' | 'etcd';
  /** The node or key the event is about (pg-node-1, /service/odoo-cluster/leader). */
  subject: string;
  what: string;
  at: number;
}

export type ClusterEventSink = (e: ClusterEvent) => void;

/** Reconnect delays: quick after a first failure, then backing off to `max` while the peer stays away. */
export function backoff(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
}

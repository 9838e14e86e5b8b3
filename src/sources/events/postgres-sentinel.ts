import pg from 'pg';
import type { Logger } from '../../log.js';
import { backoff, type ClusterEventSink } from './cluster-event.js';

export interface PostgresSentinelOptions {
  nodes: ReadonlyArray<{ name: string; dsn: string }>;
  connectTimeoutMs: number;
  onEvent: ClusterEventSink;
  logger: Logger;
  now?: () => number;
  /** First reconnect delay; doubles up to maxRetryMs while the node stays down. */
  retryMs?: number;
  maxRetryMs?: number;
}

export interface Sentinel {
  /** Nodes with a sentinel connection open right now. */
  connected(): string[];
  stop(): Promise<void>;
}

/**
 * One idle connection per PostgreSQL node, kept open only to learn the moment it breaks: when a
 * server dies its kernel closes the socket and `pg` reports the end at once — seconds before the next
 * poll. TCP keepalive (probes after 5 s idle) catches a peer that vanished without closing. The
 * connection runs no queries; the polls stay the only readers.
 */
export function startPostgresSentinel(o: PostgresSentinelOptions): Sentinel {
  const now = o.now ?? Date.now;
  const retryMs = o.retryMs ?? 1000;
  const maxRetryMs = o.maxRetryMs ?? 15_000;
  let stopped = false;
  const clients = new Map<string, pg.Client>();
  const timers = new Set<NodeJS.Timeout>();

  const later = (fn: () => void, ms: number) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    t.unref();
    timers.add(t);
  };

  const open = (node: { name: string; dsn: string }, attempt: number): void => {
    if (stopped) return;
    const client = new pg.Client({
      connectionString: node.dsn,
      connectionTimeoutMillis: o.connectTimeoutMs,
      application_name: 'odoo-ha-watch sentinel',
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
    });
    let up = false;
    let lost = false;
    const onLost = (reason: string) => {
      if (lost) return;
      lost = true;
      clients.delete(node.name);
      void client.end().catch(() => {});
      if (stopped) return;
      if (up) {
        o.logger.info(
          { node: node.name, reason },
          'PostgreSQL sentinel connection lost: evaluating the cluster rules now',
        );
        o.onEvent({
          source: 'postgres',
          subject: node.name,
          what: `connection to PostgreSQL closed (${reason})`,
          at: now(),
        });
      }
      later(() => open(node, up ? 0 : attempt + 1), up ? retryMs : backoff(attempt, retryMs, maxRetryMs));
    };
    client.on('error', (e) => onLost(e.message));
    client.on('end', () => onLost('server closed the connection'));
    client.connect().then(
      () => {
        if (stopped || lost) return void client.end().catch(() => {});
        up = true;
        clients.set(node.name, client);
      },
      (e: Error) => onLost(e.message),
    );
  };

  for (const node of o.nodes) open(node, 0);
  return {
    connected: () => [...clients.keys()],
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.allSettled([...clients.values()].map((c) => c.end()));
      clients.clear();
    },
  };
}

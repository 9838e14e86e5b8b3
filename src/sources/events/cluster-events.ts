import type { Config } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import type { ClusterEventSink } from './cluster-event.js';
import { patroniLeaderKey, watchEtcdKey, type KeyWatch } from './etcd-leader-watch.js';
import { startPostgresSentinel, type Sentinel } from './postgres-sentinel.js';

export interface ClusterEvents {
  /** What is being watched right now, for /readyz and logs. */
  describe(): string;
  stop(): Promise<void>;
}

/**
 * The event-driven side of detection, from what the config already names: a sentinel connection per
 * PostgreSQL node and a watch on Patroni's leader key in etcd (<namespace><cluster.name>/leader).
 * Either part is absent when its source is not configured.
 */
export function startClusterEvents(
  config: Config,
  o: { onEvent: ClusterEventSink; logger: Logger; now?: () => number },
): ClusterEvents {
  const s = config.sources;
  const logger = o.logger.child({ component: 'cluster-events' });
  const sentinel: Sentinel | undefined = s.postgres
    ? startPostgresSentinel({
        nodes: s.postgres.nodes,
        connectTimeoutMs: s.postgres.connect_timeout,
        onEvent: o.onEvent,
        logger,
        ...(o.now ? { now: o.now } : {}),
      })
    : undefined;
  const key = s.etcd ? patroniLeaderKey(s.etcd.patroni_namespace, config.cluster.name) : undefined;
  const watch: KeyWatch | undefined =
    s.etcd && key
      ? watchEtcdKey({
          endpoints: s.etcd.endpoints,
          key,
          connectTimeoutMs: s.etcd.timeout,
          onEvent: o.onEvent,
          logger,
          ...(o.now ? { now: o.now } : {}),
        })
      : undefined;
  return {
    describe() {
      const parts: string[] = [];
      if (sentinel) parts.push(`PostgreSQL sentinels on ${sentinel.connected().join(', ') || 'no node yet'}`);
      if (watch && key)
        parts.push(`etcd watch on ${key} ${watch.watching() ? `via ${watch.watching()}` : 'not open yet'}`);
      return parts.join('; ') || 'nothing to watch (no postgres or etcd source)';
    },
    async stop() {
      watch?.stop();
      await sentinel?.stop();
    },
  };
}

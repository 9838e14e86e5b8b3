import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { createElasticsearchSource, type ElasticsearchSource } from './elasticsearch/client.js';
import { createEtcdSource, type EtcdSource } from './etcd/client.js';
import { createHaproxySource, type HaproxySource } from './haproxy/client.js';
import { createHttpProbe, type HttpProbe } from './http-probe.js';
import type { Observation } from './observation.js';
import type { HaSource } from '../ha/watchers.js';
import { createPatroniSource, type PatroniSource } from './patroni/client.js';
import { createPostgresSource, type PostgresSource } from './postgres/client.js';

/**
 * The clients rules read from, built once from the config and injected into every evaluation,
 * so tests can substitute any of them and rules never open connections themselves.
 */
export interface Sources {
  http: HttpProbe;
  /** Present when `sources.elasticsearch` is configured (log rules). */
  elasticsearch?: ElasticsearchSource;
  /** Present when `sources.patroni` is configured (likewise haproxy, postgres, etcd). Polls are cached per cycle. */
  patroni?: PatroniSource;
  haproxy?: HaproxySource;
  postgres?: PostgresSource;
  etcd?: EtcdSource;
  /** Cluster polls that settled before this call are not shared any more: the next read polls afresh (a cluster event just happened). */
  refresh?(): void;
  /** Present when `ha:` is configured: the watchers themselves (rule type ha_watchers). */
  ha?: HaSource;
  close(): Promise<void>;
}

/** Bumped by `refresh()`: a settled poll from an older epoch is not reused. */
export interface PollEpoch {
  value: number;
}

/**
 * Cluster polls are shared by every rule evaluated within this window (one poll per tick: rules tick
 * together on wall-clock multiples of `every`). Kept well under the shortest interval (1 s) so a tick
 * never reuses the previous tick's observation.
 */
export const CLUSTER_POLL_TTL_MS = 500;

/** The cluster sources (Patroni, HAProxy, PostgreSQL, etcd) configured, each poll wrapped in `cachedPoll`. */
export function createClusterSources(
  config: Config,
  logger: Logger,
): Pick<Sources, 'patroni' | 'haproxy' | 'postgres' | 'etcd' | 'refresh'> {
  const s = config.sources;
  const epoch: PollEpoch = { value: 0 };
  const out: Pick<Sources, 'patroni' | 'haproxy' | 'postgres' | 'etcd' | 'refresh'> = {
    refresh: () => {
      epoch.value += 1;
    },
  };
  if (s.patroni) {
    const p = createPatroniSource(
      {
        members: s.patroni.members,
        timeoutMs: s.patroni.timeout,
        ...(s.patroni.username ? { username: s.patroni.username } : {}),
        ...(s.patroni.password ? { password: s.patroni.password } : {}),
      },
      logger.child({ source: 'patroni' }),
    );
    out.patroni = { ...p, poll: cachedPoll(CLUSTER_POLL_TTL_MS, p.poll, Date.now, epoch) };
  }
  if (s.haproxy) {
    const h = createHaproxySource({
      timeoutMs: s.haproxy.timeout,
      writeBackend: s.haproxy.write_backend,
      ...(s.haproxy.read_backend ? { readBackend: s.haproxy.read_backend } : {}),
      ...(s.haproxy.app_backends ? { appBackends: s.haproxy.app_backends } : {}),
      ...(s.haproxy.stats_url ? { statsUrl: s.haproxy.stats_url } : {}),
      ...(s.haproxy.username ? { username: s.haproxy.username } : {}),
      ...(s.haproxy.password ? { password: s.haproxy.password } : {}),
      ...(s.haproxy.socket ? { socket: s.haproxy.socket } : {}),
    });
    out.haproxy = { ...h, poll: cachedPoll(CLUSTER_POLL_TTL_MS, h.poll, Date.now, epoch) };
  }
  if (s.postgres) {
    const pgs = createPostgresSource(
      {
        nodes: s.postgres.nodes,
        connectTimeoutMs: s.postgres.connect_timeout,
        statementTimeoutMs: s.postgres.statement_timeout,
      },
      logger.child({ source: 'postgres' }),
    );
    out.postgres = { ...pgs, poll: cachedPoll(CLUSTER_POLL_TTL_MS, pgs.poll, Date.now, epoch) };
  }
  if (s.etcd) {
    const e = createEtcdSource({ endpoints: s.etcd.endpoints, timeoutMs: s.etcd.timeout });
    out.etcd = { poll: cachedPoll(CLUSTER_POLL_TTL_MS, e.poll, Date.now, epoch) };
  }
  return out;
}

/**
 * Shares one poll between callers within `ttlMs` of its start (several rules evaluated at the same
 * moment read the same observation). A poll still in flight is shared whatever its age: a slow
 * source gets one request at a time, never a stack of them (each poll has its own deadline). The
 * shared poll is not tied to any one caller's abort signal; each caller still stops waiting when
 * its own signal aborts. A failed poll is not reused once it settled: the next caller tries again;
 * nor is one that settled before the last `refresh()` (a cluster event).
 */
export function cachedPoll<T>(
  ttlMs: number,
  poll: (signal?: AbortSignal) => Promise<Observation<T>>,
  now: () => number = Date.now,
  epoch: PollEpoch = { value: 0 },
): (signal?: AbortSignal) => Promise<Observation<T>> {
  let last: { startedAt: number; epoch: number; p: Promise<Observation<T>>; settled: boolean } | undefined;
  return (signal?: AbortSignal) => {
    const t = now();
    if (!last || (last.settled && (t - last.startedAt >= ttlMs || last.epoch !== epoch.value))) {
      const p = poll();
      const entry = { startedAt: t, epoch: epoch.value, p, settled: false };
      last = entry;
      void p.then(
        (o) => {
          entry.settled = true;
          if (!o.ok && last === entry) last = undefined;
        },
        () => {
          entry.settled = true;
          if (last === entry) last = undefined;
        },
      );
    }
    const shared = last.p;
    if (!signal) return shared;
    if (signal.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason ?? new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      shared.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e as Error);
        },
      );
    });
  };
}

export function createSources(_config: Config, _logger: Logger): Sources {
  const esCfg = _config.sources.elasticsearch;
  const elasticsearch = esCfg
    ? createElasticsearchSource(esCfg, _logger.child({ source: 'elasticsearch' }))
    : undefined;
  return {
    http: createHttpProbe(),
    ...(elasticsearch ? { elasticsearch } : {}),
    ...createClusterSources(_config, _logger),
    async close() {
      await elasticsearch?.close();
    },
  };
}

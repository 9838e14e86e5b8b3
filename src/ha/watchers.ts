import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { ReadinessCheck } from '../http/server.js';
import type { StateStore } from '../store/store.js';
import { createHaEtcdClient, withTimeout, type HaConfig } from './etcd-client.js';
import { HaDeliveryGate } from './gate.js';
import { Leadership, type HaRole, type LeadershipView, type WatcherRecord } from './leadership.js';
import { NotifiedLog } from './notified-log.js';
import { SharedState } from './shared-state.js';

/** The prefix with exactly one trailing '/'. */
export const normPrefix = (p: string): string => `${p.replace(/\/+$/, '')}/`;

/** "watchers: obs-a active, obs-b standby" — the line `status` and the bot's /status show. */
export function formatWatchers(
  watchers: readonly Pick<WatcherRecord, 'instance' | 'role'>[],
  lost: readonly string[] = [],
): string {
  const parts = watchers.map((w) => `${w.instance} ${w.role}`);
  for (const l of lost) parts.push(`${l} LOST`);
  return `watchers: ${parts.join(', ') || 'none registered'}`;
}

/** What the HA part of the service exposes to the rest (rules, /ha, status). */
export interface HaSource {
  view(): LeadershipView;
}

/** Pings the dead man's switch URL; true when it answered 2xx. */
export async function pingDeadMansSwitch(url: string, timeoutMs: number): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  await res.arrayBuffer().catch(() => undefined);
  return res.ok;
}

/**
 * Several watchers, one active: leadership, the shared notification log, shared silences and acks,
 * the delivery gate, the dead man's switch and the ohw_ha_* metrics, wired from the `ha:` config.
 */
export class HaRuntime implements HaSource {
  readonly leadership: Leadership;
  readonly log: NotifiedLog;
  readonly shared: SharedState;
  readonly gate: HaDeliveryGate;
  readonly store: StateStore;
  private readonly client;
  private syncTimer: NodeJS.Timeout | undefined;
  private dmsTimer: NodeJS.Timeout | undefined;
  private lastPing: { at: number; ok: boolean; error?: string } | undefined;

  constructor(
    private readonly o: {
      ha: HaConfig;
      local: StateStore;
      logger: Logger;
      registry: Registry;
      now?: () => number;
      resolvePath?: (p: string) => string;
    },
  ) {
    const ha = o.ha;
    const logger = o.logger.child({ ha: ha.instance });
    const prefix = normPrefix(ha.prefix);
    this.client = createHaEtcdClient(ha, o.resolvePath);
    this.leadership = new Leadership({
      client: this.client,
      instance: ha.instance,
      prefix,
      ttlMs: ha.lease_ttl,
      timeoutMs: ha.timeout,
      ...(ha.advertise_url ? { advertiseUrl: ha.advertise_url } : {}),
      logger,
      ...(o.now ? { now: o.now } : {}),
    });
    this.log = new NotifiedLog({ client: this.client, prefix, timeoutMs: ha.timeout, logger });
    this.shared = new SharedState({
      client: this.client,
      prefix,
      timeoutMs: ha.timeout,
      local: o.local,
      log: this.log,
      logger,
      ...(o.now ? { now: o.now } : {}),
    });
    this.gate = new HaDeliveryGate({ leadership: this.leadership, log: this.log, instance: ha.instance, logger });
    this.store = this.shared.store();
    const self = this;
    const roles: HaRole[] = ['active', 'standby', 'fail-open', 'starting'];
    new Gauge({
      name: 'ohw_ha_role',
      help: "This watcher's role (1 for the current one): active sends and runs the bot",
      labelNames: ['instance', 'role', 'leader'] as const,
      registers: [o.registry],
      collect() {
        this.reset();
        const v = self.leadership.view();
        for (const r of roles)
          this.set({ instance: ha.instance, role: r, leader: v.leader ?? '' }, r === v.role ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ohw_ha_lease_age_seconds',
      help: 'Seconds since this watcher last renewed its etcd lease (grows while etcd is unreachable)',
      registers: [o.registry],
      collect() {
        const a = self.leadership.view().leaseAgeSeconds;
        if (a !== undefined) this.set(a);
        else this.reset();
      },
    });
    new Gauge({
      name: 'ohw_ha_watchers',
      help: 'Watchers registered in etcd, by role (lost: seen since start, gone now)',
      labelNames: ['role'] as const,
      registers: [o.registry],
      collect() {
        this.reset();
        const v = self.leadership.view();
        for (const r of roles) this.set({ role: r }, v.watchers.filter((w) => w.role === r).length);
        this.set({ role: 'lost' }, v.lost.length);
      },
    });
  }

  view(): LeadershipView {
    return this.leadership.view();
  }

  start(): void {
    this.leadership.start();
    const sync = async () => {
      try {
        await this.shared.sync();
      } catch (e) {
        this.o.logger.debug({ err: (e as Error).message }, 'ha: shared state sync failed');
      }
      this.syncTimer = setTimeout(() => void sync(), 1000);
    };
    void sync();
    const dms = this.o.ha.dead_mans_switch;
    if (dms) {
      const ping = async () => {
        if (this.leadership.sends) {
          const at = (this.o.now ?? Date.now)();
          try {
            const ok = await pingDeadMansSwitch(dms.url, this.o.ha.timeout);
            this.lastPing = { at, ok, ...(ok ? {} : { error: 'non-2xx answer' }) };
          } catch (e) {
            this.lastPing = { at, ok: false, error: (e as Error).message };
            this.o.logger.warn({ err: (e as Error).message }, "ha: dead man's switch ping failed");
          }
        }
        this.dmsTimer = setTimeout(() => void ping(), dms.interval);
      };
      // First ping once the role is known (a round or two), then every interval.
      this.dmsTimer = setTimeout(() => void ping(), Math.min(dms.interval, 3000));
    }
  }

  /** /readyz: not ready while failing open (etcd unreachable) or before the role is known. */
  readiness(): ReadinessCheck {
    const v = this.leadership.view();
    const detail = `${this.o.ha.instance} ${v.role} (${v.reason}); leader ${v.leader ?? 'none'}; ${formatWatchers(v.watchers, v.lost)}${this.lastPing ? `; dead man's switch ${this.lastPing.ok ? 'ok' : `FAILING: ${this.lastPing.error}`}` : ''}`;
    return { name: 'ha', ok: v.role === 'active' || v.role === 'standby', detail };
  }

  /** GET /ha: what peers and operators read. */
  report(): Record<string, unknown> {
    const v = this.leadership.view();
    return {
      ...this.leadership.report(),
      reason: v.reason,
      leaseAgeSeconds: v.leaseAgeSeconds ?? null,
      watchers: v.watchers,
      lost: v.lost,
      etcdError: v.etcdError ?? null,
      since: new Date(v.since).toISOString(),
      deadMansSwitch: this.lastPing ?? null,
    };
  }

  async stop(): Promise<void> {
    clearTimeout(this.syncTimer);
    clearTimeout(this.dmsTimer);
    await this.leadership.stop();
    this.client.close();
  }
}

/** For the `status` command (no running service): the watchers as registered in etcd now. */
export async function readWatchersOnce(ha: HaConfig, resolvePath?: (p: string) => string): Promise<string> {
  const client = createHaEtcdClient(ha, resolvePath);
  try {
    const all = await withTimeout(
      client
        .getAll()
        .prefix(`${normPrefix(ha.prefix)}watchers/`)
        .strings(),
      ha.timeout,
      'watchers read',
    );
    const list = Object.values(all).flatMap((v) => {
      try {
        return [JSON.parse(v) as WatcherRecord];
      } catch {
        return [];
      }
    });
    return formatWatchers(list.sort((a, b) => a.instance.localeCompare(b.instance)));
  } catch (e) {
    return `watchers: unknown (etcd unreachable: ${(e as Error).message})`;
  } finally {
    client.close();
  }
}

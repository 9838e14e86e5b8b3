import { EventEmitter } from 'node:events';
import { EtcdLeaseInvalidError, type Etcd3, type Lease } from 'etcd3';
import type { Logger } from '../log.js';
import { withTimeout } from './etcd-client.js';

/**
 * active: holds the leader key (sends, runs the bot). standby: evaluates only. fail-open: etcd is
 * unreachable and no peer says it is active, so this watcher sends too (marked with its name).
 * starting: etcd not reached yet and lease_ttl not over.
 */
export type HaRole = 'active' | 'standby' | 'fail-open' | 'starting';

/** What a peer says on GET /ha (and what we say about ourselves). */
export interface PeerReport {
  instance: string;
  role: HaRole;
  /** etcd answered this watcher's last round. */
  etcdOk: boolean;
  leader?: string;
}

/** One watcher as registered in etcd (key under its lease: it disappears when the watcher dies). */
export interface WatcherRecord {
  instance: string;
  role: HaRole;
  advertiseUrl?: string;
  /** When it last refreshed its record (its clock). */
  at: number;
}

export interface RoleFacts {
  now: number;
  ttlMs: number;
  instance: string;
  prevRole: HaRole;
  /** This round reached etcd. */
  etcdOk: boolean;
  /** Start of the last round that reached etcd (or of the process, if none did). */
  lastEtcdOkAt: number;
  /** The leader key's value as read in the last round that reached etcd. */
  leader?: string;
  /** Our lease surely still lives in etcd until then (keepalive send time + TTL − margin). */
  leaseValidUntil: number;
  /** Peers asked over HTTP while etcd is unreachable (empty: none asked or none answered). */
  peers: readonly PeerReport[];
}

/**
 * The leadership state machine, pure. Reachable etcd decides (leader key = us and our lease alive:
 * active). Unreachable etcd: keep the role while our lease surely lives; then wait out one TTL as
 * standby (a partition heals, or the peer holding the lease keeps sending); then, unless a peer
 * reachable over HTTP says it is active, fail open.
 */
export function decideRole(f: RoleFacts): { role: HaRole; reason: string } {
  const leaseLive = f.now < f.leaseValidUntil;
  if (f.etcdOk) {
    if (f.leader === f.instance && leaseLive) return { role: 'active', reason: 'holds the leader lease' };
    return {
      role: 'standby',
      reason: f.leader ? `${f.leader} holds the leader lease` : 'leader key free: campaigning',
    };
  }
  if (f.prevRole === 'active' && leaseLive)
    return { role: 'active', reason: 'etcd unreachable; our lease has not expired yet' };
  const activePeer = f.peers.find((p) => p.role === 'active' && p.instance !== f.instance);
  if (activePeer)
    return { role: 'standby', reason: `etcd unreachable from here; ${activePeer.instance} says it is active` };
  const downFor = f.now - f.lastEtcdOkAt;
  if (downFor < f.ttlMs)
    return {
      role: f.prevRole === 'fail-open' ? 'fail-open' : f.prevRole === 'starting' ? 'starting' : 'standby',
      reason: `etcd unreachable for ${Math.round(downFor / 1000)} s; deciding after lease_ttl`,
    };
  return {
    role: 'fail-open',
    reason: `etcd unreachable for ${Math.round(downFor / 1000)} s and no watcher says it is active: failing open`,
  };
}

export interface LeadershipOptions {
  client: Etcd3;
  instance: string;
  /** Ends with '/'. */
  prefix: string;
  ttlMs: number;
  timeoutMs: number;
  advertiseUrl?: string;
  logger: Logger;
  now?: () => number;
  /** Round period; default min(1 s, ttl/4). */
  tickMs?: number;
  /** GET a peer's /ha; injectable for tests. */
  fetchPeer?: (url: string, timeoutMs: number) => Promise<PeerReport>;
}

export interface LeadershipView {
  instance: string;
  role: HaRole;
  reason: string;
  leader?: string;
  etcdOk: boolean;
  etcdError?: string;
  /** Seconds since our lease was last renewed (undefined: no lease). */
  leaseAgeSeconds?: number;
  /** Watchers registered in etcd at the last round that reached it (ourselves included). */
  watchers: WatcherRecord[];
  /** Watchers seen registered at some point since start that are gone now (lease expired). */
  lost: string[];
  /** Role since (ms). */
  since: number;
}

function isLeaseGone(e: unknown): boolean {
  return e instanceof EtcdLeaseInvalidError || /expired or revoked|lease not found/i.test((e as Error)?.message ?? '');
}

export async function fetchPeerReport(url: string, timeoutMs: number): Promise<PeerReport> {
  const res = await fetch(`${url.replace(/\/$/, '')}/ha`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const body = (await res.json()) as Partial<PeerReport>;
  if (typeof body.instance !== 'string' || typeof body.role !== 'string') throw new Error('not a watcher /ha answer');
  return {
    instance: body.instance,
    role: body.role as HaRole,
    etcdOk: body.etcdOk === true,
    ...(typeof body.leader === 'string' ? { leader: body.leader } : {}),
  };
}

/**
 * Campaigns for the leader key `<prefix>leader` with a lease of lease_ttl, renews it every round,
 * registers this watcher under `<prefix>watchers/<instance>` and emits `role` on every change.
 * A graceful stop revokes the lease: the standby takes over at its next round, not after a TTL.
 */
export class Leadership extends EventEmitter {
  private lease: Lease | undefined;
  private leaseId: string | undefined;
  private leaseValidUntil = 0;
  private lastKeepaliveOkAt: number | undefined;
  private lastEtcdOkAt: number;
  private leader: string | undefined;
  private etcdOk = false;
  private etcdError: string | undefined;
  private roleNow: HaRole = 'starting';
  private reason = 'starting';
  private since: number;
  private watchers: WatcherRecord[] = [];
  private readonly everSeen = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private round: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly o: LeadershipOptions) {
    super();
    this.now = o.now ?? Date.now;
    this.lastEtcdOkAt = this.now();
    this.since = this.now();
  }

  get role(): HaRole {
    return this.roleNow;
  }
  /** Sends notifications: active, or failing open. */
  get sends(): boolean {
    return this.roleNow === 'active' || this.roleNow === 'fail-open';
  }

  private get leaderKey(): string {
    return `${this.o.prefix}leader`;
  }
  private get tickMs(): number {
    return this.o.tickMs ?? Math.min(1000, Math.floor(this.o.ttlMs / 4));
  }

  start(): void {
    this.stopped = false;
    const loop = async () => {
      if (this.stopped) return;
      this.round = this.tick();
      await this.round;
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.tickMs);
    };
    void loop();
  }

  /** One round: renew (or get) the lease, campaign, read the watchers; then decide the role. */
  async tick(): Promise<void> {
    const t = this.now();
    let peers: PeerReport[] = [];
    try {
      // One bound for the whole round: a call to a dead member may wait on gRPC reconnects.
      await withTimeout(
        (async () => {
          await this.renewLease(t);
          await this.campaign();
          await this.register();
          await this.readWatchers();
        })(),
        this.o.timeoutMs * 2,
        'leadership round',
      );
      this.etcdOk = true;
      this.etcdError = undefined;
      this.lastEtcdOkAt = t;
    } catch (e) {
      if (this.etcdOk || this.etcdError === undefined)
        this.o.logger.warn({ err: (e as Error).message }, 'ha: etcd unreachable');
      this.etcdOk = false;
      this.etcdError = (e as Error).message;
      if (isLeaseGone(e)) this.dropLease();
      if (!(this.roleNow === 'active' && this.now() < this.leaseValidUntil)) peers = await this.askPeers();
    }
    this.applyAndArm(
      decideRole({
        now: this.now(),
        ttlMs: this.o.ttlMs,
        instance: this.o.instance,
        prevRole: this.roleNow,
        etcdOk: this.etcdOk,
        lastEtcdOkAt: this.lastEtcdOkAt,
        ...(this.leader ? { leader: this.leader } : {}),
        leaseValidUntil: this.leaseValidUntil,
        peers,
      }),
    );
  }

  private validityTimer: NodeJS.Timeout | undefined;

  /**
   * Steps down the moment our lease may have expired, not at the end of a round that is stuck on
   * an unreachable etcd: the standby can only take the key after that, so there is never a moment
   * with two actives (two senders, two bots polling).
   */
  private applyAndArm(d: { role: HaRole; reason: string }): void {
    this.apply(d);
    this.armValidity();
  }

  private armValidity(): void {
    clearTimeout(this.validityTimer);
    if (this.roleNow !== 'active') return;
    this.validityTimer = setTimeout(
      () => {
        if (this.roleNow === 'active' && this.now() >= this.leaseValidUntil)
          this.apply({ role: 'standby', reason: 'our lease was not renewed in time: stepping down' });
      },
      Math.max(0, this.leaseValidUntil - this.now()) + 5,
    );
    this.validityTimer.unref?.();
  }

  private apply(d: { role: HaRole; reason: string }): void {
    this.reason = d.reason;
    if (d.role === this.roleNow) return;
    const prev = this.roleNow;
    this.roleNow = d.role;
    this.since = this.now();
    this.o.logger[d.role === 'fail-open' ? 'error' : 'info'](
      { role: d.role, was: prev, reason: d.reason },
      `ha: ${this.o.instance} is now ${d.role}`,
    );
    this.emit('role', d.role, prev);
  }

  private async renewLease(t: number): Promise<void> {
    const ttlS = Math.max(1, Math.round(this.o.ttlMs / 1000));
    // Our lease surely lives until the request's send time + TTL; a margin covers clock rate drift.
    const margin = Math.min(1000, this.o.ttlMs / 5);
    if (!this.lease) {
      const lease = this.o.client.lease(ttlS, { autoKeepAlive: false });
      lease.on('lost', () => undefined); // handled through keepaliveOnce's rejection
      this.lease = lease;
      try {
        this.leaseId = await withTimeout(lease.grant(), this.o.timeoutMs, 'lease grant');
      } catch (e) {
        this.lease = undefined;
        lease.release();
        throw e;
      }
    } else {
      try {
        await withTimeout(this.lease.keepaliveOnce(), this.o.timeoutMs, 'lease keepalive');
      } catch (e) {
        if (isLeaseGone(e)) this.dropLease();
        throw e;
      }
    }
    this.lastKeepaliveOkAt = this.now();
    this.leaseValidUntil = t + this.o.ttlMs - margin;
  }

  /** Expired while etcd was out of reach: a new lease next round; the leader key went with it. */
  private dropLease(): void {
    this.o.logger.warn('ha: our lease expired; taking a new one');
    this.lease?.release();
    this.lease = undefined;
    this.leaseId = undefined;
    this.leaseValidUntil = 0;
  }

  private async campaign(): Promise<void> {
    const c = this.o.client;
    const res = await c
      .if(this.leaderKey, 'Create', '==', 0)
      .then(c.put(this.leaderKey).value(this.o.instance).lease(this.leaseId!))
      .else(c.get(this.leaderKey))
      .commit();
    if (res.succeeded) {
      this.leader = this.o.instance;
      return;
    }
    const kv = res.responses[0]?.response_range?.kvs[0];
    this.leader = kv ? kv.value.toString() : undefined;
    if (kv && this.leader === this.o.instance && kv.lease !== this.leaseId) {
      // Our own key from before a restart, under the dead process's lease: free it now instead of
      // waiting a TTL, but only if nobody replaced it meanwhile.
      await c.if(this.leaderKey, 'Mod', '==', kv.mod_revision).then(c.delete().key(this.leaderKey)).commit();
      this.leader = undefined;
    }
  }

  private async register(): Promise<void> {
    const rec: WatcherRecord = {
      instance: this.o.instance,
      role: this.leader === this.o.instance ? 'active' : this.roleNow === 'active' ? 'standby' : this.roleNow,
      at: this.now(),
      ...(this.o.advertiseUrl ? { advertiseUrl: this.o.advertiseUrl } : {}),
    };
    await this.o.client
      .put(`${this.o.prefix}watchers/${this.o.instance}`)
      .value(JSON.stringify(rec))
      .lease(this.leaseId!);
  }

  private async readWatchers(): Promise<void> {
    const all = await this.o.client.getAll().prefix(`${this.o.prefix}watchers/`).strings();
    const list: WatcherRecord[] = [];
    for (const v of Object.values(all)) {
      try {
        const r = JSON.parse(v) as WatcherRecord;
        if (typeof r.instance === 'string') list.push(r);
      } catch {
        /* a foreign value under our prefix: ignored */
      }
    }
    list.sort((a, b) => a.instance.localeCompare(b.instance));
    this.watchers = list;
    for (const w of list) this.everSeen.add(w.instance);
  }

  /** While etcd is unreachable: ask the watchers last seen registered (their advertise_url). */
  private async askPeers(): Promise<PeerReport[]> {
    const fetchPeer = this.o.fetchPeer ?? fetchPeerReport;
    const peers = this.watchers.filter((w) => w.instance !== this.o.instance && w.advertiseUrl);
    const answers = await Promise.allSettled(peers.map((w) => fetchPeer(w.advertiseUrl!, this.o.timeoutMs)));
    return answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
  }

  /** This watcher as peers see it on GET /ha. */
  report(): PeerReport {
    return {
      instance: this.o.instance,
      role: this.roleNow,
      etcdOk: this.etcdOk,
      ...(this.leader ? { leader: this.leader } : {}),
    };
  }

  view(): LeadershipView {
    const present = new Set(this.watchers.map((w) => w.instance));
    // Our own record shows our current role even between rounds.
    const watchers = this.watchers.map((w) => (w.instance === this.o.instance ? { ...w, role: this.roleNow } : w));
    if (!present.has(this.o.instance)) watchers.push({ instance: this.o.instance, role: this.roleNow, at: this.now() });
    return {
      instance: this.o.instance,
      role: this.roleNow,
      reason: this.reason,
      ...(this.leader ? { leader: this.leader } : {}),
      etcdOk: this.etcdOk,
      ...(this.etcdError ? { etcdError: this.etcdError } : {}),
      ...(this.lastKeepaliveOkAt !== undefined && this.lease
        ? { leaseAgeSeconds: (this.now() - this.lastKeepaliveOkAt) / 1000 }
        : {}),
      watchers: watchers.sort((a, b) => a.instance.localeCompare(b.instance)),
      lost: this.etcdOk ? [...this.everSeen].filter((n) => !present.has(n)).sort() : [],
      since: this.since,
    };
  }

  /** Stop campaigning; revoke the lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.validityTimer);
    await this.round?.catch(() => undefined);
    const lease = this.lease;
    this.lease = undefined;
    if (lease)
      await withTimeout(lease.revoke(), this.o.timeoutMs, 'lease revoke').catch((e) =>
        this.o.logger.warn(
          { err: (e as Error).message },
          'ha: could not revoke the lease; a standby takes over after lease_ttl',
        ),
      );
    if (this.roleNow !== 'standby') this.apply({ role: 'standby', reason: 'stopped' });
  }
}

import type { Etcd3 } from 'etcd3';
import type { Silence } from '../alerts/silences.js';
import type { Logger } from '../log.js';
import type { StateStore } from '../store/store.js';
import { withTimeout } from './etcd-client.js';
import type { NotifiedLog } from './notified-log.js';

interface AckRecord {
  by: string;
  at: number;
}

/** Silence records this long past their end are deleted from etcd; ack records after this age. */
const SILENCE_KEEP_MS = 24 * 3_600_000;
const ACK_KEEP_MS = 30 * 24 * 3_600_000;

/**
 * The state store of one watcher (its own SQLite: evaluation state never waits for etcd) with what
 * must be the same on every watcher shared through etcd: silences (`<prefix>silences/<id>`), acks
 * (`<prefix>acks/<fingerprint>`) and delivery records (Telegram message ids, in the notified log).
 * A silence or ack is written locally first, then to etcd; `sync()` (every round) copies the other
 * watchers' into the local store, so they are in force everywhere within a round or two.
 */
export class SharedState {
  /** Writes etcd refused, retried at the next sync. */
  private readonly pending = new Map<string, string>();
  lastSyncOk = false;

  constructor(
    private readonly o: {
      client: Etcd3;
      prefix: string;
      timeoutMs: number;
      local: StateStore;
      log: NotifiedLog;
      logger: Logger;
      now?: () => number;
    },
  ) {}

  private async put(key: string, value: string): Promise<void> {
    try {
      await withTimeout(this.o.client.put(key).value(value).exec(), this.o.timeoutMs, 'shared state write');
      this.pending.delete(key);
    } catch (e) {
      this.pending.set(key, value);
      this.o.logger.warn({ err: (e as Error).message, key }, 'ha: shared state not written to etcd yet; retrying');
    }
  }

  /** The local store with silences, acks and delivery records shared. */
  store(): StateStore {
    const local = this.o.local;
    const overrides: Partial<StateStore> = {
      ack: async (fingerprint, by, at) => {
        const ok = await local.ack(fingerprint, by, at);
        if (ok) await this.put(`${this.o.prefix}acks/${fingerprint}`, JSON.stringify({ by, at } satisfies AckRecord));
        return ok;
      },
      addSilence: async (s) => {
        await local.addSilence(s);
        await this.put(`${this.o.prefix}silences/${s.id}`, JSON.stringify(s));
      },
      expireSilence: async (id, at) => {
        const ok = await local.expireSilence(id, at);
        if (ok) {
          const s = (await local.listSilences({ includeExpired: true })).find((x) => x.id === id);
          if (s) await this.put(`${this.o.prefix}silences/${s.id}`, JSON.stringify(s));
        }
        return ok;
      },
      deliveryOf: async (receiver, fingerprint) => {
        const rec = await this.o.log.get(receiver, fingerprint).catch(() => undefined);
        return rec?.meta ?? local.deliveryOf(receiver, fingerprint);
      },
    };
    return new Proxy(local, {
      get(target, prop, _receiver) {
        if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof StateStore];
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  /**
   * The shared records under `<prefix><kind>/` that are still kept, by key; unreadable ones are
   * skipped, expired ones deleted (best effort). Throws when etcd cannot be read.
   */
  private async records<T>(kind: 'silences' | 'acks', kept: (r: T) => boolean): Promise<[string, T][]> {
    const c = this.o.client;
    const all = await withTimeout(
      c.getAll().prefix(`${this.o.prefix}${kind}/`).strings(),
      this.o.timeoutMs,
      `${kind} read`,
    );
    const out: [string, T][] = [];
    for (const [k, v] of Object.entries(all)) {
      let r: T;
      try {
        r = JSON.parse(v) as T;
      } catch {
        continue;
      }
      if (kept(r)) out.push([k, r]);
      else
        await c
          .delete()
          .key(k)
          .exec()
          .catch(() => undefined);
    }
    return out;
  }

  /** Copies the other watchers' silences and acks into the local store; throws when etcd cannot be read. */
  async sync(): Promise<void> {
    const now = (this.o.now ?? Date.now)();
    for (const [k, v] of [...this.pending]) await this.put(k, v);
    const mine = new Map((await this.o.local.listSilences({ includeExpired: true })).map((s) => [s.id, s]));
    for (const [, s] of await this.records<Silence>('silences', (x) => x.endsAt >= now - SILENCE_KEEP_MS)) {
      const m = mine.get(s.id);
      if (!m || m.endsAt !== s.endsAt) await this.o.local.addSilence(s);
    }
    for (const [k, a] of await this.records<AckRecord>('acks', (x) => x.at >= now - ACK_KEEP_MS)) {
      const fp = k.slice(`${this.o.prefix}acks/`.length);
      const alert = await this.o.local.findAlert(fp);
      // An ack belongs to one episode: one made before this episode began does not carry over.
      if (
        alert &&
        alert.fingerprint === fp &&
        alert.state !== 'resolved' &&
        !alert.ackedBy &&
        alert.activeSince <= a.at
      )
        await this.o.local.ack(fp, a.by, a.at);
    }
    await this.o.log.flush();
    this.lastSyncOk = true;
  }
}

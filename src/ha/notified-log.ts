import type { Etcd3 } from 'etcd3';
import type { NotifiedAlert, Notification } from '../alerts/notification.js';
import type { Logger } from '../log.js';
import type { OutboxItem } from '../store/store.js';
import { withTimeout } from './etcd-client.js';

/** What was last sent for one alert to one receiver, shared by every watcher (a small etcd record). */
export interface NotifiedRecord {
  kind: 'firing' | 'update' | 'resolved';
  /** The incident phase the alert was in when sent (firing/update), so a takeover does not re-send a phase. */
  phase?: string;
  /** The alert's message when sent: an update of a live alert changes only that. */
  message?: string;
  /** When it was sent (the sender's clock). */
  sentAt: number;
  /** The watcher that sent it. */
  by: string;
  /** Receiver's delivery record (Telegram message ids, to thread and edit the resolve). */
  meta?: unknown;
}

/** A reminder is taken as already sent when the alert was notified less than this before it was queued. */
export const REMINDER_WINDOW_MS = 10 * 60_000;

/**
 * Should this watcher send alert `a` of notification `n` (queued at `createdAt`), given what was
 * last sent for it? Pure. A newcomer that took over holds what it evaluated while standby: what the
 * previous active already sent for the same state is dropped, what it missed (the resolve after it
 * died, a firing it never saw) is sent. Something queued before the last send of the other kind is
 * stale: the story moved on.
 */
export function shouldSend(
  n: Pick<Notification, 'kind'>,
  a: Pick<NotifiedAlert, 'repeat'> & Partial<Pick<NotifiedAlert, 'phase' | 'message'>>,
  createdAt: number,
  last: NotifiedRecord | undefined,
): boolean {
  if (!last) return true;
  // An update (the incident moved to a new phase, or a live alert's text changed) is sent unless the
  // same phase and text already went out, or the story has since been resolved.
  if (n.kind === 'update') return last.kind !== 'resolved' && (last.phase !== a.phase || last.message !== a.message);
  // A firing after an update of the same episode is a reminder or a repeat of what is known.
  if (last.kind === 'update' && n.kind === 'firing')
    return a.repeat === true && createdAt - last.sentAt >= REMINDER_WINDOW_MS;
  if (last.kind === n.kind) {
    if (n.kind === 'firing' && a.repeat) return createdAt - last.sentAt >= REMINDER_WINDOW_MS;
    return false;
  }
  return createdAt >= last.sentAt;
}

/** The part of an outbox item still to send (alerts filtered), or undefined when nothing is left. */
export function remainingOf(item: OutboxItem, records: ReadonlyMap<string, NotifiedRecord>): OutboxItem | undefined {
  const keep = item.notification.alerts.filter((a) =>
    shouldSend(item.notification, a, item.createdAt, records.get(a.fingerprint)),
  );
  if (keep.length === 0) return undefined;
  if (keep.length === item.notification.alerts.length) return item;
  return { ...item, notification: { ...item.notification, alerts: keep } };
}

const enc = (s: string) => encodeURIComponent(s);

/**
 * The shared log in etcd: `<prefix>notified/<receiver>/<fingerprint>` → NotifiedRecord. Written by
 * the watcher that sent (after the notifier confirmed), read by the one deciding what is left to
 * send. Writes that fail (etcd unreachable: fail open) are kept and retried, newest per key.
 */
export class NotifiedLog {
  private readonly unsynced = new Map<string, NotifiedRecord>();

  constructor(private readonly o: { client: Etcd3; prefix: string; timeoutMs: number; logger: Logger }) {}

  key(receiver: string, fingerprint: string): string {
    return `${this.o.prefix}notified/${enc(receiver)}/${fingerprint}`;
  }

  /** Records for these fingerprints; throws when etcd cannot be read. */
  async read(receiver: string, fingerprints: readonly string[]): Promise<Map<string, NotifiedRecord>> {
    const out = new Map<string, NotifiedRecord>();
    const prefix = `${this.o.prefix}notified/${enc(receiver)}/`;
    const all = await withTimeout(
      this.o.client.getAll().prefix(prefix).strings(),
      this.o.timeoutMs,
      'notified log read',
    );
    const want = new Set(fingerprints);
    for (const [k, v] of Object.entries(all)) {
      const fp = k.slice(prefix.length);
      if (!want.has(fp)) continue;
      try {
        out.set(fp, JSON.parse(v) as NotifiedRecord);
      } catch {
        /* foreign value: ignored */
      }
    }
    for (const fp of fingerprints) {
      const mine = this.unsynced.get(this.key(receiver, fp));
      const theirs = out.get(fp);
      if (mine && (!theirs || mine.sentAt > theirs.sentAt)) out.set(fp, mine);
    }
    return out;
  }

  async get(receiver: string, fingerprint: string): Promise<NotifiedRecord | undefined> {
    const v = await withTimeout(
      this.o.client.get(this.key(receiver, fingerprint)).string(),
      this.o.timeoutMs,
      'notified log read',
    );
    return v ? (JSON.parse(v) as NotifiedRecord) : this.unsynced.get(this.key(receiver, fingerprint));
  }

  /** Records a send; never throws (kept for a retry when etcd is unreachable). */
  async record(receiver: string, fingerprint: string, rec: NotifiedRecord): Promise<void> {
    const key = this.key(receiver, fingerprint);
    try {
      await withTimeout(
        this.o.client.put(key).value(JSON.stringify(rec)).exec(),
        this.o.timeoutMs,
        'notified log write',
      );
      this.unsynced.delete(key);
    } catch (e) {
      this.unsynced.set(key, rec);
      this.o.logger.warn(
        { err: (e as Error).message, receiver, fingerprint },
        'ha: notified log not written; kept for a retry',
      );
    }
  }

  /** Writes what could not be written before (called every round while etcd answers). */
  async flush(): Promise<void> {
    for (const [key, rec] of [...this.unsynced]) {
      try {
        await withTimeout(
          this.o.client.put(key).value(JSON.stringify(rec)).exec(),
          this.o.timeoutMs,
          'notified log write',
        );
        this.unsynced.delete(key);
      } catch {
        return;
      }
    }
  }
}

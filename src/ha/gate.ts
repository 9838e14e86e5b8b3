import type { Logger } from '../log.js';
import type { OutboxItem } from '../store/store.js';
import type { Leadership } from './leadership.js';
import { remainingOf, type NotifiedLog } from './notified-log.js';

/**
 * Decides, in the outbox worker, what this watcher may send. Without one (single watcher) the
 * worker sends everything; with several watchers only the active one (or each, failing open) does.
 */
export interface DeliveryGate {
  /**
   * Of the due items for one receiver: `send` now (possibly with fewer alerts), `done` without
   * sending (another watcher already sent them; marked sent with the reason); the rest stay pending.
   */
  admit(
    receiver: string,
    items: readonly OutboxItem[],
    now: number,
  ): Promise<{ send: OutboxItem[]; done: { item: OutboxItem; meta: unknown }[] }>;
  /** The notifier confirmed `item`: share it so a watcher taking over does not repeat it. */
  sent(receiver: string, item: OutboxItem, meta: unknown, now: number): Promise<void>;
}

/**
 * A standby keeps what it queued this long at most: the active watcher had every chance to send the
 * same thing, and did not (silenced there, or coalesced differently). Longer than any takeover.
 */
export const STANDBY_KEEP_MS = 15 * 60_000;

export class HaDeliveryGate implements DeliveryGate {
  constructor(
    private readonly o: { leadership: Pick<Leadership, 'role'>; log: NotifiedLog; instance: string; logger: Logger },
  ) {}

  async admit(
    receiver: string,
    items: readonly OutboxItem[],
    now: number,
  ): Promise<{ send: OutboxItem[]; done: { item: OutboxItem; meta: unknown }[] }> {
    const role = this.o.leadership.role;
    if (role === 'fail-open') {
      // etcd unreachable: nothing to compare with; every watcher sends, each copy says who sent it.
      return {
        send: items.map((i) => ({ ...i, notification: { ...i.notification, via: this.o.instance } })),
        done: [],
      };
    }
    const fps = [...new Set(items.flatMap((i) => i.notification.alerts.map((a) => a.fingerprint)))];
    let records;
    try {
      records = await this.o.log.read(receiver, fps);
    } catch (e) {
      // Active on a lease that has not expired yet, but etcd did not answer this read: sending
      // risks a repeat, holding risks a miss; a page twice beats a page never.
      if (role === 'active') return { send: [...items], done: [] };
      this.o.logger.debug({ err: (e as Error).message }, 'ha: notified log unreadable; standby holds its queue');
      return { send: [], done: [] };
    }
    const send: OutboxItem[] = [];
    const done: { item: OutboxItem; meta: unknown }[] = [];
    for (const item of items) {
      const rest = remainingOf(item, records);
      const by = [
        ...new Set(item.notification.alerts.map((a) => records.get(a.fingerprint)?.by).filter((b): b is string => !!b)),
      ];
      if (!rest) done.push({ item, meta: { ha: `already sent by ${by.join(', ') || 'another watcher'}` } });
      else if (role === 'active') send.push(rest);
      else if (now - item.createdAt > STANDBY_KEEP_MS)
        done.push({
          item,
          meta: {
            ha: `not sent: standby for ${Math.round(STANDBY_KEEP_MS / 60_000)} min and the active watcher did not send it`,
          },
        });
    }
    return { send, done };
  }

  async sent(receiver: string, item: OutboxItem, meta: unknown, now: number): Promise<void> {
    const n = item.notification;
    for (const a of n.alerts)
      await this.o.log.record(receiver, a.fingerprint, {
        kind: n.kind,
        sentAt: now,
        by: this.o.instance,
        ...(a.phase !== undefined ? { phase: a.phase } : {}),
        message: a.message,
        ...(meta !== undefined ? { meta } : {}),
      });
  }
}

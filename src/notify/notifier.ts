import type { Notification } from '../alerts/notification.js';
import type { OutboxItem } from '../store/store.js';

/** Delivery outcome per outbox item; failures are values so the worker decides retry vs give up. */
export type DeliveryResult =
  | {
      ok: true;
      meta?: unknown;
      /** The message that starts (or continues) the thread of these alerts: kept as their first page if they have none. */
      thread?: unknown;
    }
  | { ok: false; retryable: boolean; error: string; retryAfterMs?: number };

/**
 * A notifier owns the receivers it routes to (e.g. one per Telegram chat). The outbox worker hands
 * it every due item of one receiver at once, so it may pace or coalesce them into a digest.
 */
export interface Notifier {
  readonly name: string;
  /** Receivers this notification goes to ("console", "telegram:-100123"...). Pure routing. */
  receivers(n: Notification): string[];
  deliver(receiver: string, items: OutboxItem[], signal: AbortSignal): Promise<Map<number, DeliveryResult>>;
  /** Earliest time this receiver may be sent to again (pacing); default: now. */
  readyAt?(receiver: string, now: number): number;
  /** Problems an operator must see in /readyz (rejected chats, a second bot polling the token...). */
  health?(): { ok: boolean; detail?: string };
  close?(): Promise<void>;
}

import type { Notification } from '../alerts/notification.js';
import type { Logger } from '../log.js';
import type { OutboxItem } from '../store/store.js';
import type { Notifier } from './notifier.js';

export interface DirectSendOptions {
  logger: Logger;
  now?: () => number;
  /** Attempts per receiver before giving up (retryable failures and pacing deferrals both count). */
  attempts?: number;
  sendTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Synthetic outbox ids: negative, so they never meet a stored item's id in a notifier's bookkeeping. */
let nextId = -1;

/**
 * Delivers one notification to every receiver without the outbox: for news about the outbox's own
 * store ("state store not writable"), which cannot wait for a write to succeed. Honours pacing
 * and retry_after, retries a few times, never throws. Returns the receivers that got it.
 */
export async function sendDirect(
  notifiers: readonly Notifier[],
  n: Notification,
  o: DirectSendOptions,
): Promise<string[]> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const attempts = o.attempts ?? 6;
  const delivered: string[] = [];
  await Promise.all(
    notifiers.flatMap((notifier) =>
      notifier.receivers(n).map(async (receiver) => {
        const item: OutboxItem = {
          id: nextId--,
          receiver,
          notification: n,
          state: 'pending',
          attempts: 0,
          nextAttemptAt: now(),
          createdAt: now(),
        };
        let last = 'not attempted';
        for (let i = 0; i < attempts; i++) {
          const wait = (notifier.readyAt?.(receiver, now()) ?? now()) - now();
          if (wait > 0) await sleep(Math.min(wait, 60_000));
          let r;
          try {
            r = (await notifier.deliver(receiver, [item], AbortSignal.timeout(o.sendTimeoutMs ?? 30_000))).get(item.id);
          } catch (e) {
            r = { ok: false as const, retryable: true, error: (e as Error).message };
          }
          if (r?.ok) {
            delivered.push(receiver);
            return;
          }
          if (r && !r.retryable) {
            last = r.error;
            break;
          }
          last = r?.error ?? 'deferred by pacing';
          await sleep(r?.retryAfterMs ?? Math.min(30_000, 1000 * 2 ** i));
        }
        o.logger.error({ receiver, rule: n.rule.id, error: last }, 'direct notification not delivered');
      }),
    ),
  );
  return delivered;
}

import type { Logger } from '../log.js';
import type { Metrics } from '../http/metrics.js';
import type { OutboxItem, StateStore } from '../store/store.js';
import type { DeliveryResult, Notifier } from './notifier.js';
import type { DeliveryGate } from '../ha/gate.js';

export interface OutboxWorkerOptions {
  store: StateStore;
  notifiers: readonly Notifier[];
  logger: Logger;
  metrics?: Metrics;
  now?: () => number;
  /** Poll period when idle; `kick()` wakes the worker at once after a commit. */
  pollMs?: number;
  sendTimeoutMs?: number;
  backoff?: { baseMs: number; maxMs: number };
  /** Give up (state failed) after this long: a page that is a day late is noise. */
  maxAgeMs?: number;
  random?: () => number;
  /** Several watchers: only what the gate admits is sent (the active watcher; see src/ha). */
  gate?: DeliveryGate;
}

/**
 * Sends what the engine committed to the outbox. An item is marked sent only after its
 * notifier confirmed it, so a crash re-sends at most the batch that was in flight.
 */
export class OutboxWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private rerun = false;
  private readonly now: () => number;

  constructor(private readonly o: OutboxWorkerOptions) {
    this.now = o.now ?? Date.now;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Run now (after a commit), or right after the current pass. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) this.rerun = true;
    else this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.pass(), ms);
    this.timer.unref?.();
  }

  /** One delivery pass over every due item; returns when it is done. */
  async pass(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.deliverDue().catch((e) => this.o.logger.error({ err: e }, 'outbox pass failed'));
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
    const again = this.rerun;
    this.rerun = false;
    this.schedule(again ? 0 : (this.o.pollMs ?? 1000));
  }

  private async deliverDue(): Promise<void> {
    const now = this.now();
    for (const notifier of this.o.notifiers) {
      const due = await this.o.store.dueOutbox(now, 500, `${notifier.name}`);
      const byReceiver = new Map<string, OutboxItem[]>();
      for (const item of due) {
        if (item.receiver !== notifier.name && !item.receiver.startsWith(`${notifier.name}:`)) continue;
        const list = byReceiver.get(item.receiver) ?? [];
        list.push(item);
        byReceiver.set(item.receiver, list);
      }
      await Promise.all([...byReceiver].map(([receiver, items]) => this.deliverTo(notifier, receiver, items)));
    }
    if (this.o.metrics) {
      const counts = await this.o.store.outboxCounts();
      for (const [state, n] of Object.entries(counts)) this.o.metrics.notificationsQueued.set({ state }, n);
    }
  }

  private async deliverTo(notifier: Notifier, receiver: string, items: OutboxItem[]): Promise<void> {
    const now = this.now();
    if ((notifier.readyAt?.(receiver, now) ?? now) > now) return;
    const maxAge = this.o.maxAgeMs ?? 24 * 3_600_000;
    let fresh: OutboxItem[] = [];
    for (const item of items) {
      if (now - item.createdAt > maxAge) {
        await this.o.store.markFailed(
          item.id,
          `gave up after ${item.attempts} attempts: ${item.lastError ?? 'not delivered in time'}`,
        );
        this.o.logger.error(
          { receiver, outboxId: item.id, rule: item.notification.rule.id },
          'notification expired undelivered',
        );
      } else fresh.push(item);
    }
    if (fresh.length === 0) return;
    if (this.o.gate) {
      const g = await this.o.gate.admit(receiver, fresh, now);
      for (const d of g.done) await this.o.store.markSent(d.item.id, this.now(), d.meta);
      fresh = g.send;
      if (fresh.length === 0) return;
    }
    let results: Map<number, DeliveryResult>;
    const ac = new AbortController();
    const timeout = setTimeout(() => ac.abort(new Error('send timeout')), this.o.sendTimeoutMs ?? 30_000);
    try {
      results = await notifier.deliver(receiver, fresh, ac.signal);
    } catch (e) {
      // A throwing notifier is a bug, but one receiver's bug must not lose the items: retry them.
      results = new Map(
        fresh.map((i) => [i.id, { ok: false, retryable: true, error: (e as Error).message } as DeliveryResult]),
      );
    } finally {
      clearTimeout(timeout);
    }
    for (const item of fresh) {
      const r = results.get(item.id);
      if (!r) continue; // deferred by the notifier (pacing): stays pending
      if (r.ok) {
        await this.o.store.markSent(item.id, this.now(), r.meta);
        if (r.meta !== undefined && item.notification.kind === 'firing') {
          for (const a of item.notification.alerts)
            if (!a.repeat) await this.o.store.setDelivery(receiver, a.fingerprint, r.meta);
        }
        if (r.thread !== undefined && item.notification.kind !== 'resolved') {
          for (const a of item.notification.alerts)
            await this.o.store.startThread(receiver, a.fingerprint, a.activeSince, r.thread);
        }
        await this.o.gate?.sent(receiver, item, r.meta, this.now());
        this.o.metrics?.notificationsSent.inc({ receiver });
        continue;
      }
      this.o.metrics?.notificationsFailed.inc({ receiver, retryable: String(r.retryable) });
      if (!r.retryable) {
        await this.o.store.markFailed(item.id, r.error);
        this.o.logger.error(
          { receiver, outboxId: item.id, rule: item.notification.rule.id, error: r.error },
          'notification rejected, not retrying',
        );
        continue;
      }
      const delay = r.retryAfterMs ?? this.backoffMs(item.attempts);
      await this.o.store.markRetry(item.id, this.now() + delay, r.error);
      this.o.logger.warn(
        { receiver, outboxId: item.id, attempt: item.attempts + 1, retryInMs: delay, error: r.error },
        'notification failed, will retry',
      );
    }
  }

  /** Exponential backoff with full jitter, so many queued items don't retry in lockstep. */
  backoffMs(attempts: number): number {
    const { baseMs, maxMs } = this.o.backoff ?? { baseMs: 1000, maxMs: 5 * 60_000 };
    const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempts, 20));
    return Math.round(cap / 2 + (this.o.random ?? Math.random)() * (cap / 2));
  }

  /** Stop polling, let the in-flight pass finish (bounded), then one last pass for what the last commits queued. */
  async stop(graceMs = 5000): Promise<void> {
    clearTimeout(this.timer);
    const inFlight = this.running;
    if (inFlight) await Promise.race([inFlight, new Promise((r) => setTimeout(r, graceMs).unref())]);
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Final flush on shutdown: deliver what is due now, bounded in time. */
  async flush(graceMs = 5000): Promise<void> {
    await Promise.race([this.deliverDue().catch(() => undefined), new Promise((r) => setTimeout(r, graceMs).unref())]);
  }
}

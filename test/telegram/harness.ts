/** Shared setup for real-HTTP Telegram tests: fake Bot API, virtual clock, store, notifier, outbox worker. */
import pino from 'pino';
import type { Alert } from '../../src/alerts/alert.js';
import { fingerprintOf, shortIdOf } from '../../src/alerts/alert.js';
import type { Notification, NotifiedAlert } from '../../src/alerts/notification.js';
import { createMetrics } from '../../src/http/metrics.js';
import { OutboxWorker } from '../../src/notify/outbox-worker.js';
import { TelegramNotifier, type TelegramRoute } from '../../src/notify/telegram/notifier.js';
import type { PacingLimits } from '../../src/notify/telegram/pacer.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { startFakeTelegram, type FakeTelegram, type FakeTelegramOptions } from '../support/fake-telegram.js';

export const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
export const TOKEN = '987654321:HARNESS-secret-token-value';

export class VirtualClock {
  constructor(public t = T0) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A pino logger whose lines the test can read (and scan for the token). */
export function captureLogger() {
  const lines: string[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write: (s: string) => {
        lines.push(s);
      },
    },
  );
  return { logger, lines };
}

export function firingAlert(ruleId: string, labels: Record<string, string>, over: Partial<Alert> = {}): Alert {
  const fingerprint = fingerprintOf(ruleId, labels);
  return {
    fingerprint,
    shortId: shortIdOf(fingerprint),
    ruleId,
    labels,
    state: 'firing',
    severity: 'critical',
    activeSince: T0 - 60_000,
    firedAt: T0,
    lastSeenAt: T0,
    message: `${ruleId} on ${Object.values(labels).join('/')}`,
    values: { value: 150, threshold: 100 },
    ...over,
  };
}

export function notified(a: Alert, repeat = false): NotifiedAlert {
  return {
    fingerprint: a.fingerprint,
    shortId: a.shortId,
    labels: a.labels,
    values: a.values,
    message: a.message,
    ...(a.samples ? { samples: a.samples } : {}),
    activeSince: a.activeSince,
    ...(a.firedAt !== undefined ? { firedAt: a.firedAt } : {}),
    ...(a.resolvedAt !== undefined ? { resolvedAt: a.resolvedAt } : {}),
    repeat,
  };
}

export function notificationOf(
  kind: 'firing' | 'resolved',
  alerts: Alert[],
  at: number,
  over: Partial<Notification['rule']> = {},
): Notification {
  const a0 = alerts[0]!;
  return {
    key: `${a0.ruleId}:${at}:${kind}`,
    kind,
    cluster: 'odoo-prod',
    rule: {
      id: a0.ruleId,
      name: `Rule ${a0.ruleId}`,
      type: 'test',
      severity: a0.severity,
      runbook: 'look at pg2 & the <leader>',
      ...over,
    },
    commonLabels: {},
    alerts: alerts.map((a) => notified(a)),
    at,
  };
}

export interface Harness {
  clock: VirtualClock;
  fake: FakeTelegram;
  store: SqliteStore;
  notifier: TelegramNotifier;
  worker: OutboxWorker;
  metrics: ReturnType<typeof createMetrics>;
  logs: string[];
  /** Commit alert state + outbox rows for every receiver, as the engine does. */
  enqueue(n: Notification, upserts?: Alert[]): Promise<void>;
  /** Runs outbox passes, advancing the virtual clock by `stepMs` between them, until nothing is pending or `maxMs` passed. */
  drain(maxMs: number, stepMs?: number, each?: () => Promise<void> | void): Promise<void>;
  close(): Promise<void>;
}

export async function harness(o: {
  chats: TelegramRoute[];
  pacing?: Partial<PacingLimits>;
  coalesceAfter?: number;
  fake?: FakeTelegramOptions;
  storePath?: string;
}): Promise<Harness> {
  const clock = new VirtualClock();
  // Telegram's flood control on: a notifier that sends faster than the documented rates gets 429s here too.
  const fake = await startFakeTelegram({ token: TOKEN, now: clock.now, maxPollMs: 2000, floodControl: {}, ...o.fake });
  const store = new SqliteStore(o.storePath ?? ':memory:');
  const { logger, lines } = captureLogger();
  const notifier = new TelegramNotifier({
    token: fake.token,
    apiRoot: fake.apiRoot,
    chats: o.chats,
    store,
    logger,
    now: clock.now,
    ...(o.pacing ? { pacing: o.pacing } : {}),
    ...(o.coalesceAfter !== undefined ? { coalesceAfter: o.coalesceAfter } : {}),
  });
  const metrics = createMetrics();
  // pollMs is huge: the test drives passes itself, on the virtual clock.
  const worker = new OutboxWorker({
    store,
    notifiers: [notifier],
    logger,
    metrics,
    now: clock.now,
    pollMs: 1_000_000_000,
    random: () => 0.5,
    backoff: { baseMs: 1000, maxMs: 60_000 },
  });
  const h: Harness = {
    clock,
    fake,
    store,
    notifier,
    worker,
    metrics,
    logs: lines,
    async enqueue(n, upserts = []) {
      await store.commit({
        upserts,
        deletes: [],
        transitions: [],
        outbox: notifier.receivers(n).map((receiver) => ({ receiver, notification: n })),
      });
    },
    async drain(maxMs, stepMs = 100, each) {
      const end = clock.t + maxMs;
      for (;;) {
        await each?.();
        await worker.pass();
        if ((await store.outboxCounts()).pending === 0 && !each) return;
        if (clock.t >= end) return;
        clock.advance(stepMs);
      }
    },
    async close() {
      await fake.close();
      await store.close();
    },
  };
  return h;
}

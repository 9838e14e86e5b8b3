import type { Alert, AlertState } from '../alerts/alert.js';
import type { Transition } from '../alerts/lifecycle.js';
import type { Notification } from '../alerts/notification.js';
import type { Silence } from '../alerts/silences.js';
import type { DrillStore } from '../drill/types.js';

export type OutboxState = 'pending' | 'sent' | 'failed';

/** A notification for one receiver, persisted before any network call: crash-safe delivery. */
export interface OutboxItem {
  id: number;
  receiver: string;
  notification: Notification;
  state: OutboxState;
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
  sentAt?: number;
  lastError?: string;
  /** Receiver-specific delivery record (e.g. Telegram message ids, for threading the resolve). */
  meta?: unknown;
}

/** Everything one evaluation changes, applied atomically: state and outbox never disagree. */
export interface EvaluationCommit {
  upserts: Alert[];
  deletes: string[];
  transitions: Transition[];
  outbox: { receiver: string; notification: Notification }[];
  cursor?: { ruleId: string; value: unknown };
}

export interface RuleHealth {
  ruleId: string;
  /** The source the last failed evaluation could not read. */
  source?: string;
  lastEvalAt?: number;
  lastSuccessAt?: number;
  lastError?: string;
  consecutiveFailures: number;
  failingSince?: number;
}

/** A write the store could not make (disk full, read-only file, corruption): the reason in an operator's words. */
export class StoreWriteError extends Error {
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`state store not writable: ${reason}`, options);
    this.name = 'StoreWriteError';
  }
}

/**
 * One point of a compact time series (src/series/): `series` says what was measured (lag_bytes,
 * haproxy_up…), `key` of what (a member, a backend, a rule id; '' when there is one), `step` the
 * width in ms of the bucket it summarises (0 = a raw poll; downsampled buckets keep the maximum).
 */
export interface Sample {
  series: string;
  key: string;
  at: number;
  value: number;
  step?: number;
}

/** Whether the store can be written: a store that cannot is the service going silent. */
export type StoreHealth = { writable: true } | { writable: false; reason: string; since: number };

/**
 * The state store. Async so that a PostgreSQL implementation (multi-instance) fits behind it;
 * the SQLite implementation is synchronous underneath.
 */
export interface StateStore extends DrillStore {
  readonly schemaVersion: number;
  alertsForRule(ruleId: string): Promise<Alert[]>;
  listAlerts(states?: AlertState[]): Promise<Alert[]>;
  /** By fingerprint or short id (prefix); resolved alerts included. */
  findAlert(id: string): Promise<Alert | undefined>;
  commit(c: EvaluationCommit): Promise<void>;
  ack(fingerprint: string, by: string, at: number): Promise<boolean>;

  addSilence(s: Silence): Promise<void>;
  expireSilence(id: string, at: number): Promise<boolean>;
  listSilences(opts?: { now?: number; includeExpired?: boolean }): Promise<Silence[]>;

  history(limit: number): Promise<Transition[]>;
  getCursor(ruleId: string): Promise<unknown>;

  dueOutbox(now: number, limit: number, receiverPrefix?: string): Promise<OutboxItem[]>;
  markSent(id: number, at: number, meta?: unknown): Promise<void>;
  markRetry(id: number, nextAttemptAt: number, error: string): Promise<void>;
  markFailed(id: number, error: string): Promise<void>;
  outboxCounts(): Promise<Record<OutboxState, number>>;
  /** Find the delivery record of an earlier notification (threading a resolve to its firing message). */
  deliveryOf(receiver: string, fingerprint: string): Promise<unknown>;
  setDelivery(receiver: string, fingerprint: string, meta: unknown): Promise<void>;
  /** The first message of an alert's episode (its `activeSince`) for a receiver: what its updates edit and reply to. */
  threadOf(receiver: string, fingerprint: string, episode: number): Promise<unknown>;
  /** Records the first message of an episode; a later call for the same episode changes nothing (first page wins). */
  startThread(receiver: string, fingerprint: string, episode: number, meta: unknown): Promise<void>;

  setRuleHealth(h: RuleHealth): Promise<void>;
  ruleHealth(): Promise<RuleHealth[]>;
  /** A rule removed or disabled: its health record and cursor go (its alerts are resolved by the engine). */
  forgetRule(ruleId: string): Promise<void>;
  /** The outcome of the last write: readiness fails, and the chats are told, while it cannot write. */
  health(): StoreHealth;

  /** Appends raw samples (one poll). */
  addSamples(samples: readonly Sample[]): Promise<void>;
  /** Samples of `series` (any of them when a list) with from <= at <= to, oldest first, raw and downsampled mixed. */
  samples(series: string | readonly string[], from: number, to: number): Promise<Sample[]>;
  /**
   * Raw samples older than `rawBefore` become one sample per `step` bucket (the maximum: a lag peak
   * must survive downsampling); every sample older than `dropBefore` goes. Returns rows removed.
   */
  compactSamples(o: { rawBefore: number; step: number; dropBefore: number }): Promise<number>;

  /** Drop resolved alerts, sent outbox items and history older than `before`. */
  purge(before: number): Promise<number>;
  close(): Promise<void>;
}

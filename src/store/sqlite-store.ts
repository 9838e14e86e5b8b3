import Database from 'better-sqlite3';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Alert, AlertState } from '../alerts/alert.js';
import type { Transition } from '../alerts/lifecycle.js';
import type { Silence } from '../alerts/silences.js';
import type { DrillReport } from '../drill/types.js';
import {
  StoreWriteError,
  type Sample,
  type EvaluationCommit,
  type OutboxItem,
  type OutboxState,
  type RuleHealth,
  type StateStore,
  type StoreHealth,
} from './store.js';

/**
 * Ordered migrations; PRAGMA user_version records how many ran. Append, never edit:
 * a released database must upgrade through every step.
 */
/** Schema steps, applied in order; the index + 1 of the last one applied is the file's user_version. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE alerts (
     fingerprint TEXT PRIMARY KEY,
     short_id TEXT NOT NULL,
     rule_id TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('pending','firing','resolved')),
     data TEXT NOT NULL
   );
   CREATE INDEX alerts_rule ON alerts(rule_id);
   CREATE INDEX alerts_short ON alerts(short_id);
   CREATE TABLE silences (id TEXT PRIMARY KEY, ends_at INTEGER NOT NULL, data TEXT NOT NULL);
   CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, rule_id TEXT NOT NULL, data TEXT NOT NULL);
   CREATE TABLE outbox (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     receiver TEXT NOT NULL,
     notification TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('pending','sent','failed')),
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     sent_at INTEGER,
     last_error TEXT,
     meta TEXT
   );
   CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
   CREATE TABLE cursors (rule_id TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE deliveries (receiver TEXT NOT NULL, fingerprint TEXT NOT NULL, meta TEXT NOT NULL, PRIMARY KEY (receiver, fingerprint));
   CREATE TABLE rule_health (rule_id TEXT PRIMARY KEY, data TEXT NOT NULL);`,
  // Failover drill reports (src/drill): kept until deleted by hand, they are the HA evidence.
  `CREATE TABLE drills (id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, kind TEXT NOT NULL, outcome TEXT NOT NULL, data TEXT NOT NULL);
   CREATE INDEX drills_started ON drills(started_at);`,
  // One incident, one thread: the first message of each alert episode per receiver, which its
  // updates edit and its follow-ups reply to (reminders and replies never replace it).
  `CREATE TABLE threads (
     receiver TEXT NOT NULL,
     fingerprint TEXT NOT NULL,
     episode INTEGER NOT NULL,
     meta TEXT NOT NULL,
     PRIMARY KEY (receiver, fingerprint, episode)
   );`,
  // Compact time series for charts (/lag, the status page): numbers only, one row per point.
  `CREATE TABLE samples (
     series TEXT NOT NULL,
     key TEXT NOT NULL,
     at INTEGER NOT NULL,
     step INTEGER NOT NULL DEFAULT 0,
     value REAL NOT NULL,
     PRIMARY KEY (series, key, step, at)
   ) WITHOUT ROWID;
   CREATE INDEX samples_at ON samples(series, at);`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

interface OutboxRow {
  id: number;
  receiver: string;
  notification: string;
  state: OutboxState;
  attempts: number;
  next_attempt_at: number;
  created_at: number;
  sent_at: number | null;
  last_error: string | null;
  meta: string | null;
}

/**
 * SQLite through better-sqlite3: an embedded, server-less store whose transactions survive
 * kill -9 and power loss (WAL + synchronous=FULL). Chosen over JSON files (no atomic multi-row
 * updates) and over sql.js (in-memory, whole-file rewrites).
 */
/** What a commit is about: the same rule's commit is re-derived and retried on its next tick. */
function commitKey(c: EvaluationCommit): string {
  const ids = new Set([
    ...c.upserts.map((a) => a.ruleId),
    ...c.outbox.map((o) => o.notification.rule.id),
    ...(c.cursor ? [c.cursor.ruleId] : []),
  ]);
  return [...ids].sort().join(',');
}

function reasonOf(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  const msg = (e as Error)?.message ?? String(e);
  return typeof code === 'string' && !msg.includes(code) ? `${msg} (${code})` : msg;
}

export interface SqliteStoreOptions {
  readonly?: boolean;
  /** Called when writes start failing and when they succeed again. */
  onHealthChange?: (h: StoreHealth) => void;
  now?: () => number;
}

export class SqliteStore implements StateStore {
  readonly schemaVersion = SCHEMA_VERSION;
  private readonly db: Database.Database;
  private state: StoreHealth = { writable: true };
  /** Writes that failed and have not succeeded since (see `write`). */
  private readonly failing = new Set<string>();

  /**
   * Opens the store for the service. A file that is not a database or fails SQLite's integrity
   * check is moved aside (`<path>.corrupt-<time>`, with its -wal/-shm) and a fresh store created:
   * alerting with empty state beats not alerting at all. `movedAside` says where it went, so the
   * service can announce it.
   */
  static openForService(
    path: string,
    opts: Omit<SqliteStoreOptions, 'readonly'> = {},
  ): { store: SqliteStore; movedAside?: { to: string; reason: string } } {
    try {
      const store = new SqliteStore(path, opts);
      const check = store.db.pragma('quick_check', { simple: true });
      if (check === 'ok') return { store };
      store.db.close();
      return SqliteStore.moveAside(path, `integrity check: ${String(check)}`, opts);
    } catch (e) {
      const code = String((e as { code?: unknown })?.code ?? '');
      if (path === ':memory:' || !(code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')) throw e;
      return SqliteStore.moveAside(path, reasonOf(e), opts);
    }
  }

  private static moveAside(
    path: string,
    reason: string,
    opts: Omit<SqliteStoreOptions, 'readonly'>,
  ): { store: SqliteStore; movedAside: { to: string; reason: string } } {
    const to = `${path}.corrupt-${new Date(opts.now?.() ?? Date.now()).toISOString().replace(/[:.]/g, '-')}`;
    renameSync(path, to);
    for (const ext of ['-wal', '-shm']) if (existsSync(path + ext)) renameSync(path + ext, to + ext);
    return { store: new SqliteStore(path, opts), movedAside: { to, reason } };
  }

  /** `readonly` opens an existing file for inspection (CLI `rules`, `test-rule`): nothing is migrated or written. */
  constructor(
    path: string,
    private readonly opts: SqliteStoreOptions = {},
  ) {
    if (opts.readonly) {
      this.db = new Database(path, { readonly: true, fileMustExist: true });
      const v = this.db.pragma('user_version', { simple: true }) as number;
      if (v !== MIGRATIONS.length)
        throw new Error(
          `state store at ${path} has schema version ${v}, expected ${MIGRATIONS.length}; start the service once to migrate it`,
        );
      return;
    }
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  health(): StoreHealth {
    return this.state;
  }

  /**
   * Every write goes through here. A failure (SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR…) marks the
   * store unwritable and is rethrown as StoreWriteError. It is writable again only once every write
   * that failed has succeeded: on a full disk an overwrite in place still succeeds while inserts
   * fail, and "recovered" on any success would flap every tick. `key` names what was written (a
   * rule's commit, an outbox item…); its callers retry it (the engine re-derives an unsaved commit
   * on the next tick, the outbox retries its marks). `key` undefined: a one-off write (a chat
   * command's ack or silence, the hourly purge) that reports its own failure and is not awaited.
   */
  private write<T>(key: string | undefined, fn: () => T): T {
    let out: T;
    try {
      out = fn();
    } catch (e) {
      const reason = reasonOf(e);
      if (key !== undefined) this.failing.add(key);
      if (this.state.writable || this.state.reason !== reason) {
        this.state = {
          writable: false,
          reason,
          since: this.state.writable ? (this.opts.now ?? Date.now)() : this.state.since,
        };
        this.opts.onHealthChange?.(this.state);
      }
      throw new StoreWriteError(reason, { cause: e });
    }
    if (key !== undefined) this.failing.delete(key);
    if (!this.state.writable && this.failing.size === 0) {
      this.state = { writable: true };
      this.opts.onHealthChange?.(this.state);
    }
    return out;
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new Error(
        `state store schema version ${current} is newer than this build supports (${MIGRATIONS.length}); refusing to downgrade`,
      );
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  async alertsForRule(ruleId: string): Promise<Alert[]> {
    return (this.db.prepare('SELECT data FROM alerts WHERE rule_id = ?').all(ruleId) as { data: string }[]).map(
      (r) => JSON.parse(r.data) as Alert,
    );
  }

  async listAlerts(states?: AlertState[]): Promise<Alert[]> {
    const rows = (
      states?.length
        ? this.db.prepare(`SELECT data FROM alerts WHERE state IN (${states.map(() => '?').join(',')})`).all(...states)
        : this.db.prepare('SELECT data FROM alerts').all()
    ) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as Alert);
  }

  async findAlert(id: string): Promise<Alert | undefined> {
    const row = this.db
      .prepare("SELECT data FROM alerts WHERE fingerprint = ? OR short_id = ? ORDER BY state = 'resolved' LIMIT 1")
      .get(id, id) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as Alert) : undefined;
  }

  async commit(c: EvaluationCommit): Promise<void> {
    const now = Date.now();
    const upsert = this.db.prepare(
      'INSERT INTO alerts (fingerprint, short_id, rule_id, state, data) VALUES (?, ?, ?, ?, ?) ON CONFLICT(fingerprint) DO UPDATE SET state = excluded.state, data = excluded.data',
    );
    const del = this.db.prepare('DELETE FROM alerts WHERE fingerprint = ?');
    const hist = this.db.prepare('INSERT INTO history (at, rule_id, data) VALUES (?, ?, ?)');
    const out = this.db.prepare(
      "INSERT INTO outbox (receiver, notification, state, next_attempt_at, created_at) VALUES (?, ?, 'pending', ?, ?)",
    );
    const cur = this.db.prepare(
      'INSERT INTO cursors (rule_id, value) VALUES (?, ?) ON CONFLICT(rule_id) DO UPDATE SET value = excluded.value',
    );
    this.write(`commit:${commitKey(c)}`, () =>
      this.db.transaction(() => {
        for (const a of c.upserts) upsert.run(a.fingerprint, a.shortId, a.ruleId, a.state, JSON.stringify(a));
        for (const fp of c.deletes) del.run(fp);
        // Pending alerts that never fired are noise in the history: keep only what people were or could be told.
        for (const t of c.transitions)
          if (t.to === 'firing' || t.to === 'resolved') hist.run(t.at, t.ruleId, JSON.stringify(t));
        for (const o of c.outbox) out.run(o.receiver, JSON.stringify(o.notification), o.notification.at, now);
        if (c.cursor) cur.run(c.cursor.ruleId, JSON.stringify(c.cursor.value));
      })(),
    );
  }

  async ack(fingerprint: string, by: string, at: number): Promise<boolean> {
    const row = this.db
      .prepare("SELECT data FROM alerts WHERE fingerprint = ? AND state != 'resolved'")
      .get(fingerprint) as { data: string } | undefined;
    if (!row) return false;
    const a = { ...(JSON.parse(row.data) as Alert), ackedBy: by, ackedAt: at };
    this.write(undefined, () =>
      this.db.prepare('UPDATE alerts SET data = ? WHERE fingerprint = ?').run(JSON.stringify(a), fingerprint),
    );
    return true;
  }

  async addSilence(s: Silence): Promise<void> {
    this.write(undefined, () =>
      this.db
        .prepare(
          'INSERT INTO silences (id, ends_at, data) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET ends_at = excluded.ends_at, data = excluded.data',
        )
        .run(s.id, s.endsAt, JSON.stringify(s)),
    );
  }

  async expireSilence(id: string, at: number): Promise<boolean> {
    const row = this.db.prepare('SELECT data FROM silences WHERE id = ? AND ends_at > ?').get(id, at) as
      | { data: string }
      | undefined;
    if (!row) return false;
    const s = { ...(JSON.parse(row.data) as Silence), endsAt: at };
    this.write(undefined, () =>
      this.db.prepare('UPDATE silences SET ends_at = ?, data = ? WHERE id = ?').run(at, JSON.stringify(s), id),
    );
    return true;
  }

  async listSilences(opts: { now?: number; includeExpired?: boolean } = {}): Promise<Silence[]> {
    const rows = (
      opts.includeExpired
        ? this.db.prepare('SELECT data FROM silences ORDER BY ends_at').all()
        : this.db.prepare('SELECT data FROM silences WHERE ends_at > ? ORDER BY ends_at').all(opts.now ?? Date.now())
    ) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as Silence);
  }

  async history(limit: number): Promise<Transition[]> {
    return (this.db.prepare('SELECT data FROM history ORDER BY id DESC LIMIT ?').all(limit) as { data: string }[]).map(
      (r) => JSON.parse(r.data) as Transition,
    );
  }

  async getCursor(ruleId: string): Promise<unknown> {
    const row = this.db.prepare('SELECT value FROM cursors WHERE rule_id = ?').get(ruleId) as
      | { value: string }
      | undefined;
    return row ? JSON.parse(row.value) : undefined;
  }

  async dueOutbox(now: number, limit: number, receiverPrefix = ''): Promise<OutboxItem[]> {
    const rows = this.db
      // Per receiver in commit order: an item waits while an earlier one to the same receiver waits for
      // its retry, so a resolve never overtakes the firing message a 5xx is still holding back.
      .prepare(`SELECT * FROM outbox o WHERE state = 'pending' AND next_attempt_at <= ? AND substr(receiver, 1, ?) = ?
        AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.state = 'pending' AND e.receiver = o.receiver AND e.id < o.id AND e.next_attempt_at > ?)
        ORDER BY id LIMIT ?`)
      .all(now, receiverPrefix.length, receiverPrefix, now, limit) as OutboxRow[];
    return rows.map((r) => ({
      id: r.id,
      receiver: r.receiver,
      notification: JSON.parse(r.notification),
      state: r.state,
      attempts: r.attempts,
      nextAttemptAt: r.next_attempt_at,
      createdAt: r.created_at,
      ...(r.sent_at !== null ? { sentAt: r.sent_at } : {}),
      ...(r.last_error !== null ? { lastError: r.last_error } : {}),
      ...(r.meta !== null ? { meta: JSON.parse(r.meta) } : {}),
    }));
  }

  async markSent(id: number, at: number, meta?: unknown): Promise<void> {
    this.write(`outbox:${id}`, () =>
      this.db
        .prepare("UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, meta = ? WHERE id = ?")
        .run(at, meta === undefined ? null : JSON.stringify(meta), id),
    );
  }

  async markRetry(id: number, nextAttemptAt: number, error: string): Promise<void> {
    this.write(`outbox:${id}`, () =>
      this.db
        .prepare('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?')
        .run(nextAttemptAt, error, id),
    );
  }

  async markFailed(id: number, error: string): Promise<void> {
    this.write(`outbox:${id}`, () =>
      this.db
        .prepare("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?")
        .run(error, id),
    );
  }

  async outboxCounts(): Promise<Record<OutboxState, number>> {
    const counts: Record<OutboxState, number> = { pending: 0, sent: 0, failed: 0 };
    for (const r of this.db.prepare('SELECT state, COUNT(*) AS n FROM outbox GROUP BY state').all() as {
      state: OutboxState;
      n: number;
    }[])
      counts[r.state] = r.n;
    return counts;
  }

  async deliveryOf(receiver: string, fingerprint: string): Promise<unknown> {
    const row = this.db
      .prepare('SELECT meta FROM deliveries WHERE receiver = ? AND fingerprint = ?')
      .get(receiver, fingerprint) as { meta: string } | undefined;
    return row ? JSON.parse(row.meta) : undefined;
  }

  async setDelivery(receiver: string, fingerprint: string, meta: unknown): Promise<void> {
    this.write(`delivery:${receiver}:${fingerprint}`, () =>
      this.db
        .prepare(
          'INSERT INTO deliveries (receiver, fingerprint, meta) VALUES (?, ?, ?) ON CONFLICT(receiver, fingerprint) DO UPDATE SET meta = excluded.meta',
        )
        .run(receiver, fingerprint, JSON.stringify(meta)),
    );
  }

  async threadOf(receiver: string, fingerprint: string, episode: number): Promise<unknown> {
    const row = this.db
      .prepare('SELECT meta FROM threads WHERE receiver = ? AND fingerprint = ? AND episode = ?')
      .get(receiver, fingerprint, episode) as { meta: string } | undefined;
    return row ? JSON.parse(row.meta) : undefined;
  }

  async startThread(receiver: string, fingerprint: string, episode: number, meta: unknown): Promise<void> {
    this.write(`thread:${receiver}:${fingerprint}`, () =>
      this.db
        .prepare(
          'INSERT INTO threads (receiver, fingerprint, episode, meta) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
        )
        .run(receiver, fingerprint, episode, JSON.stringify(meta)),
    );
  }

  async setRuleHealth(h: RuleHealth): Promise<void> {
    this.write(`health:${h.ruleId}`, () =>
      this.db
        .prepare(
          'INSERT INTO rule_health (rule_id, data) VALUES (?, ?) ON CONFLICT(rule_id) DO UPDATE SET data = excluded.data',
        )
        .run(h.ruleId, JSON.stringify(h)),
    );
  }

  async ruleHealth(): Promise<RuleHealth[]> {
    return (this.db.prepare('SELECT data FROM rule_health').all() as { data: string }[]).map(
      (r) => JSON.parse(r.data) as RuleHealth,
    );
  }

  async forgetRule(ruleId: string): Promise<void> {
    this.write(`forget:${ruleId}`, () =>
      this.db.transaction(() => {
        this.db.prepare('DELETE FROM rule_health WHERE rule_id = ?').run(ruleId);
        this.db.prepare('DELETE FROM cursors WHERE rule_id = ?').run(ruleId);
      })(),
    );
  }

  async addSamples(samples: readonly Sample[]): Promise<void> {
    if (samples.length === 0) return;
    const ins = this.db.prepare(
      'INSERT INTO samples (series, key, at, step, value) VALUES (?, ?, ?, ?, ?) ON CONFLICT(series, key, step, at) DO UPDATE SET value = excluded.value',
    );
    this.write('samples', () =>
      this.db.transaction(() => {
        for (const s of samples)
          if (Number.isFinite(s.value)) ins.run(s.series, s.key, Math.round(s.at), s.step ?? 0, s.value);
      })(),
    );
  }

  async samples(series: string | readonly string[], from: number, to: number): Promise<Sample[]> {
    const list = typeof series === 'string' ? [series] : [...series];
    if (list.length === 0) return [];
    const rows = this.db
      .prepare(
        `SELECT series, key, at, step, value FROM samples WHERE series IN (${list.map(() => '?').join(',')}) AND at >= ? AND at <= ? ORDER BY at, series, key`,
      )
      .all(...list, from, to) as Sample[];
    return rows;
  }

  async compactSamples(o: { rawBefore: number; step: number; dropBefore: number }): Promise<number> {
    // Only whole buckets are folded: a bucket still receiving raw samples would be written twice.
    // (CAST: numbers are bound as REAL, and at / step must be integer division.)
    const cut = Math.floor(o.rawBefore / o.step) * o.step;
    let n = 0;
    this.write(undefined, () =>
      this.db.transaction(() => {
        this.db
          .prepare(
            `INSERT INTO samples (series, key, at, step, value)
           SELECT series, key, (at / CAST(@step AS INTEGER)) * CAST(@step AS INTEGER), CAST(@step AS INTEGER), MAX(value) FROM samples WHERE step = 0 AND at < @cut GROUP BY series, key, at / CAST(@step AS INTEGER)
         ON CONFLICT(series, key, step, at) DO UPDATE SET value = MAX(value, excluded.value)`,
          )
          .run({ step: Math.round(o.step), cut });
        n += this.db.prepare('DELETE FROM samples WHERE step = 0 AND at < ?').run(cut).changes;
        n += this.db.prepare('DELETE FROM samples WHERE at < ?').run(o.dropBefore).changes;
      })(),
    );
    return n;
  }

  async purge(before: number): Promise<number> {
    let n = 0;
    this.write(undefined, () =>
      this.db.transaction(() => {
        const resolved = this.db.prepare("SELECT fingerprint, data FROM alerts WHERE state = 'resolved'").all() as {
          fingerprint: string;
          data: string;
        }[];
        for (const r of resolved) {
          if (((JSON.parse(r.data) as Alert).resolvedAt ?? 0) < before) {
            this.db.prepare('DELETE FROM alerts WHERE fingerprint = ?').run(r.fingerprint);
            this.db.prepare('DELETE FROM deliveries WHERE fingerprint = ?').run(r.fingerprint);
            this.db.prepare('DELETE FROM threads WHERE fingerprint = ?').run(r.fingerprint);
            n++;
          }
        }
        n += this.db.prepare("DELETE FROM outbox WHERE state != 'pending' AND created_at < ?").run(before).changes;
        n += this.db.prepare('DELETE FROM history WHERE at < ?').run(before).changes;
        n += this.db.prepare('DELETE FROM silences WHERE ends_at < ?').run(before).changes;
      })(),
    );
    return n;
  }

  async saveDrill(r: DrillReport): Promise<void> {
    this.write(undefined, () =>
      this.db
        .prepare(
          'INSERT INTO drills (id, started_at, kind, outcome, data) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET outcome = excluded.outcome, data = excluded.data',
        )
        .run(r.id, r.startedAt, r.kind, r.outcome, JSON.stringify(r)),
    );
  }

  async listDrills(limit: number): Promise<DrillReport[]> {
    return (
      this.db.prepare('SELECT data FROM drills ORDER BY started_at DESC, rowid DESC LIMIT ?').all(limit) as {
        data: string;
      }[]
    ).map((r) => JSON.parse(r.data) as DrillReport);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/**
 * The drill's probes: what a client sees while the cluster moves. A write probe inserts one row per
 * interval through HAProxy's write frontend and records each acknowledged write; a read probe runs
 * SELECT 1 through the read frontend; an HTTP probe GETs the Odoo frontend. A connection that breaks
 * is dropped and reopened on the next tick, as an application's pool would; an operation still in
 * flight at a tick makes the tick skip (no pile-up behind a hung connection).
 */
import pg from 'pg';

export interface ProbeStats {
  /** Times of successful operations. */
  ok: number[];
  failed: number;
  lastError?: string;
}

export interface Probe {
  readonly stats: ProbeStats;
  stop(): Promise<void>;
}

/** Runs `op` every `intervalMs` (skipping ticks while one is in flight) until stopped. */
function ticker(intervalMs: number, op: () => Promise<void>): { stop: () => Promise<void> } {
  let inFlight: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (inFlight) return;
    inFlight = op().finally(() => {
      inFlight = undefined;
    });
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}

const OP_TIMEOUT_MS = 1000;

async function connect(dsn: string): Promise<pg.Client> {
  const c = new pg.Client({
    connectionString: dsn,
    connectionTimeoutMillis: OP_TIMEOUT_MS,
    query_timeout: OP_TIMEOUT_MS,
    application_name: 'odoo-ha-watch-drill',
  });
  c.on('error', () => undefined); // a broken connection surfaces on the next query
  await c.connect();
  return c;
}

/** Reconnecting single-connection runner for one SQL statement per tick. */
function sqlProbe(
  dsn: string,
  intervalMs: number,
  now: () => number,
  run: (c: pg.Client) => Promise<void>,
): Probe & { acked?: Map<number, number> } {
  const stats: ProbeStats = { ok: [], failed: 0 };
  let client: pg.Client | undefined;
  const t = ticker(intervalMs, async () => {
    try {
      client ??= await connect(dsn);
      await run(client);
      stats.ok.push(now());
    } catch (e) {
      stats.failed++;
      stats.lastError = (e as Error).message;
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    }
  });
  return {
    stats,
    async stop() {
      await t.stop();
      await client?.end().catch(() => undefined);
    },
  };
}

export interface WriteProbe extends Probe {
  /** seq → time its INSERT was acknowledged (committed). */
  readonly acked: Map<number, number>;
}

/** Creates the probe table if missing (through the write frontend, before the drill starts). */
export async function ensureProbeTable(dsn: string, table: string): Promise<void> {
  const c = await connect(dsn);
  try {
    await c.query(
      `CREATE TABLE IF NOT EXISTS ${table} (drill_id text NOT NULL, seq integer NOT NULL, written_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (drill_id, seq))`,
    );
  } finally {
    await c.end().catch(() => undefined);
  }
}

export function startWriteProbe(o: {
  dsn: string;
  table: string;
  drillId: string;
  intervalMs: number;
  now: () => number;
}): WriteProbe {
  const acked = new Map<number, number>();
  let seq = 0;
  const p = sqlProbe(o.dsn, o.intervalMs, o.now, async (c) => {
    const s = ++seq;
    await c.query(`INSERT INTO ${o.table} (drill_id, seq) VALUES ($1, $2)`, [o.drillId, s]);
    acked.set(s, o.now());
  });
  return { ...p, acked };
}

export function startReadProbe(o: { dsn: string; intervalMs: number; now: () => number }): Probe {
  return sqlProbe(o.dsn, o.intervalMs, o.now, async (c) => {
    await c.query('SELECT 1');
  });
}

/** GET through the Odoo frontend; any answer below 500 counts as served. */
export function startHttpProbe(o: { url: string; intervalMs: number; now: () => number }): Probe {
  const stats: ProbeStats = { ok: [], failed: 0 };
  const t = ticker(o.intervalMs, async () => {
    try {
      const r = await fetch(o.url, { signal: AbortSignal.timeout(OP_TIMEOUT_MS), headers: { connection: 'close' } });
      await r.arrayBuffer();
      if (r.status < 500) stats.ok.push(o.now());
      else {
        stats.failed++;
        stats.lastError = `HTTP ${r.status}`;
      }
    } catch (e) {
      stats.failed++;
      stats.lastError = (e as Error).message;
    }
  });
  return { stats, stop: () => t.stop() };
}

/** The sequence numbers of this drill's rows found through the write frontend (RPO check); retried while no primary answers. */
export async function readBack(o: {
  dsn: string;
  table: string;
  drillId: string;
  deadline: number;
  now: () => number;
}): Promise<Set<number> | undefined> {
  for (;;) {
    try {
      const c = await connect(o.dsn);
      try {
        const r = await c.query<{ seq: number }>(`SELECT seq FROM ${o.table} WHERE drill_id = $1`, [o.drillId]);
        await c.query(`DELETE FROM ${o.table} WHERE drill_id = $1`, [o.drillId]).catch(() => undefined);
        return new Set(r.rows.map((x) => x.seq));
      } finally {
        await c.end().catch(() => undefined);
      }
    } catch {
      if (o.now() >= o.deadline) return undefined;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

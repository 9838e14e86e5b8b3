// Helper for integration tests against the local HA lab (scripts/lab): 3 PostgreSQL 15 nodes under
// Patroni 3.0 + 3 etcd 3.4 members + HAProxy 2.6 + 2 stand-in Odoo workers, all on 127.0.0.1.
//
//   import { describe, before, after, it } from 'node:test';
//   import { labSkipReason, startLab, type Lab } from '../support/lab.js';
//
//   describe('failover', { skip: labSkipReason() }, () => {
//     let lab: Lab;
//     before(async () => { lab = await startLab(); });
//     after(async () => { await lab.down(); });
//     it('notices', async () => { const old = await lab.killPrimary(); ... await lab.restartNode(old); });
//   });
//
// The lab needs root (PostgreSQL runs as `postgres` via setpriv); labSkipReason() says why it cannot run.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LAB_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts/lab');

export type NodeNumber = 1 | 2 | 3;
export type AppNumber = 1 | 2;
/** Patroni member name as in the seed's patroni.yml: pg-node-1..3 (node N; its HAProxy server is pgN). */
export type MemberName = `pg-node-${NodeNumber}`;

export interface LabPorts {
  etcd: number;
  etcdPeer: number;
  /** Patroni REST API of pg1..pg3 */
  rest: [number, number, number];
  /** PostgreSQL of pg1..pg3 */
  pg: [number, number, number];
  /** stand-in Odoo workers odoo1, odoo2 */
  apps: [number, number];
  haproxyPrimary: number;
  haproxyReplicas: number;
  haproxyOdoo: number;
  haproxyStats: number;
}

export interface LabInfo {
  dir: string;
  scope: string;
  ports: LabPorts;
  /** http://127.0.0.1:<rest> for pg1..pg3 */
  patroniUrls: [string, string, string];
  /** Basic auth Patroni wants for POST/PATCH/DELETE (GET is open) */
  patroniAuth: { user: string; password: string };
  etcdUrl: string;
  /** Client URLs of the three etcd members (the seed runs three). */
  etcdUrls: [string, string, string];
  /** HAProxy stats CSV over HTTP (…/stats;csv), needs haproxyStatsAuth */
  haproxyStatsUrl: string;
  haproxyStatsAuth: { user: string; password: string };
  /** HAProxy Runtime API socket (level admin) */
  haproxySocket: string;
  /** ohw_monitor (pg_monitor) through HAProxy pg_primary / pg_replicas */
  pgPrimaryDsn: string;
  pgReplicasDsn: string;
  /** ohw_monitor directly on pg1..pg3 */
  pgNodeDsns: [string, string, string];
  /** postgres superuser through HAProxy pg_primary */
  pgSuperuserDsn: string;
  /** HAProxy odoo_workers frontend */
  odooUrl: string;
  appUrls: [string, string];
  patroniLogs: [string, string, string];
  haproxyLog: string;
}

export interface LabRunResult {
  stdout: string;
  stderr: string;
}

export class LabError extends Error {
  constructor(
    message: string,
    readonly stdout: string,
    readonly stderr: string,
    readonly exitCode: number | string | null,
  ) {
    super(message);
    this.name = 'LabError';
  }
}

/** Why the lab cannot run here, or undefined when it can. Use as node:test `skip`. */
export function labSkipReason(): string | undefined {
  if (process.env['OHW_SKIP_LAB'] === '1') return 'OHW_SKIP_LAB=1';
  if (process.platform !== 'linux') return `HA lab needs Linux (this is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'HA lab needs root (it starts PostgreSQL as the postgres user via setpriv); run the integration tests as root';
  }
  if (!existsSync(LAB_SCRIPT)) return `missing ${LAB_SCRIPT}`;
  return undefined;
}

/** Run `scripts/lab <args>`; rejects with LabError (stderr included) on a non-zero exit. */
export function runLab(
  args: readonly string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<LabRunResult> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      LAB_SCRIPT,
      [...args],
      {
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, ...opts.env },
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err) {
          const code = (err as NodeJS.ErrnoException & { code?: number | string }).code ?? null;
          const why = err.killed ? `timed out after ${opts.timeoutMs ?? 120_000} ms` : `exit ${String(code)}`;
          reject(
            new LabError(
              `scripts/lab ${args.join(' ')} failed (${why}): ${stderr.trim().split('\n').slice(-5).join(' | ')}`,
              stdout,
              stderr,
              code,
            ),
          );
          return;
        }
        resolvePromise({ stdout, stderr });
      },
    );
  });
}

/** Parse the `export K='V'` lines printed by `scripts/lab env`. */
export function parseLabEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z0-9_]+)='([^']*)'$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

function need(env: Record<string, string>, key: string): string {
  const v = env[key];
  if (v === undefined) throw new Error(`scripts/lab env did not print ${key}`);
  return v;
}
function list(env: Record<string, string>, key: string, sep: string): string[] {
  return need(env, key)
    .split(sep)
    .filter((s) => s !== '');
}
function tuple3<T>(xs: T[], key: string): [T, T, T] {
  const [a, b, c] = xs;
  if (xs.length !== 3 || a === undefined || b === undefined || c === undefined)
    throw new Error(`${key}: expected 3 values`);
  return [a, b, c];
}
function tuple2<T>(xs: T[], key: string): [T, T] {
  const [a, b] = xs;
  if (xs.length !== 2 || a === undefined || b === undefined) throw new Error(`${key}: expected 2 values`);
  return [a, b];
}
function port(env: Record<string, string>, key: string): number {
  const n = Number(need(env, key));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${key}: not a port`);
  return n;
}

export function labInfoFromEnv(env: Record<string, string>): LabInfo {
  const ports = (key: string) => list(env, key, ' ').map((p) => Number(p));
  return {
    dir: need(env, 'OHW_LAB_DIR'),
    scope: need(env, 'OHW_LAB_SCOPE'),
    ports: {
      etcd: port(env, 'OHW_LAB_ETCD_PORT'),
      etcdPeer: port(env, 'OHW_LAB_ETCD_PEER_PORT'),
      rest: tuple3(ports('OHW_LAB_REST_PORTS'), 'OHW_LAB_REST_PORTS'),
      pg: tuple3(ports('OHW_LAB_PG_PORTS'), 'OHW_LAB_PG_PORTS'),
      apps: tuple2(ports('OHW_LAB_APP_PORTS'), 'OHW_LAB_APP_PORTS'),
      haproxyPrimary: port(env, 'OHW_LAB_HAPROXY_PRIMARY_PORT'),
      haproxyReplicas: port(env, 'OHW_LAB_HAPROXY_REPLICAS_PORT'),
      haproxyOdoo: port(env, 'OHW_LAB_HAPROXY_ODOO_PORT'),
      haproxyStats: port(env, 'OHW_LAB_HAPROXY_STATS_PORT'),
    },
    patroniUrls: tuple3(list(env, 'OHW_LAB_PATRONI_URLS', ','), 'OHW_LAB_PATRONI_URLS'),
    patroniAuth: { user: need(env, 'OHW_LAB_PATRONI_USER'), password: need(env, 'OHW_LAB_PATRONI_PASSWORD') },
    etcdUrl: need(env, 'OHW_LAB_ETCD_URL'),
    etcdUrls: tuple3(list(env, 'OHW_LAB_ETCD_URLS', ','), 'OHW_LAB_ETCD_URLS'),
    haproxyStatsUrl: need(env, 'OHW_LAB_HAPROXY_STATS_URL'),
    haproxyStatsAuth: {
      user: need(env, 'OHW_LAB_HAPROXY_STATS_USER'),
      password: need(env, 'OHW_LAB_HAPROXY_STATS_PASSWORD'),
    },
    haproxySocket: need(env, 'OHW_LAB_HAPROXY_SOCKET'),
    pgPrimaryDsn: need(env, 'OHW_LAB_PG_PRIMARY_DSN'),
    pgReplicasDsn: need(env, 'OHW_LAB_PG_REPLICAS_DSN'),
    pgNodeDsns: tuple3(list(env, 'OHW_LAB_PG_NODE_DSNS', ','), 'OHW_LAB_PG_NODE_DSNS'),
    pgSuperuserDsn: need(env, 'OHW_LAB_PG_SUPERUSER_DSN'),
    odooUrl: need(env, 'OHW_LAB_ODOO_URL'),
    appUrls: tuple2(list(env, 'OHW_LAB_ODOO_APP_URLS', ','), 'OHW_LAB_ODOO_APP_URLS'),
    patroniLogs: tuple3(list(env, 'OHW_LAB_PATRONI_LOGS', ','), 'OHW_LAB_PATRONI_LOGS'),
    haproxyLog: need(env, 'OHW_LAB_HAPROXY_LOG'),
  };
}

function memberName(text: string): MemberName {
  const name = text.trim().split('\n').pop()?.trim() ?? '';
  if (name !== 'pg-node-1' && name !== 'pg-node-2' && name !== 'pg-node-3')
    throw new Error(`expected a member name pg-node-1..3, got '${name}'`);
  return name;
}

/** Node number of a member name (pg-node-2 -> 2). */
export function nodeOf(name: MemberName): NodeNumber {
  return Number(name.slice('pg-node-'.length)) as NodeNumber;
}

export class Lab {
  constructor(
    readonly info: LabInfo,
    private readonly env: NodeJS.ProcessEnv = {},
  ) {}

  run(args: readonly string[], timeoutMs?: number): Promise<LabRunResult> {
    return runLab(args, { env: this.env, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  }

  /** `scripts/lab status` output (patronictl list + HAProxy servers + processes). */
  async status(): Promise<string> {
    return (await this.run(['status'], 30_000)).stdout;
  }
  /** Current leader per /cluster. */
  async leader(): Promise<MemberName> {
    return memberName((await this.run(['leader'], 15_000)).stdout);
  }
  /** Leader running, 2 replicas streaming, exactly one UP server in HAProxy pg_primary, both apps UP. */
  async waitReady(seconds = 90): Promise<void> {
    await this.run(['wait-ready', String(seconds)], (seconds + 15) * 1000);
  }
  /** SIGKILL the leader's Patroni + postmaster. Returns the killed member. Failover follows after ~ttl. */
  async killPrimary(): Promise<MemberName> {
    return memberName((await this.run(['kill-primary'], 30_000)).stdout);
  }
  /** Graceful stop of the leader's Patroni (releases the leader key). Returns the stopped member. */
  async stopPrimary(): Promise<MemberName> {
    return memberName((await this.run(['stop-primary'], 90_000)).stdout);
  }
  /** Planned switchover (optionally to node `to`); resolves with the new leader once it runs. */
  async switchover(to?: NodeNumber): Promise<MemberName> {
    return memberName((await this.run(to === undefined ? ['switchover'] : ['switchover', String(to)], 90_000)).stdout);
  }
  /** Start node N's Patroni again (after killPrimary/stopPrimary/stopNode); accepts a member name. */
  async restartNode(n: NodeNumber | MemberName): Promise<void> {
    await this.run(['restart-node', String(typeof n === 'number' ? n : nodeOf(n))], 30_000);
  }
  async startNode(n: NodeNumber): Promise<void> {
    await this.run(['start-node', String(n)], 30_000);
  }
  async stopNode(n: NodeNumber): Promise<void> {
    await this.run(['stop-node', String(n)], 90_000);
  }
  async stopApp(n: AppNumber): Promise<void> {
    await this.run(['stop-app', String(n)], 30_000);
  }
  async startApp(n: AppNumber): Promise<void> {
    await this.run(['start-app', String(n)], 30_000);
  }
  /** SIGSTOP replica N's walreceiver: it stays connected while its lag grows (use write() to grow it). */
  async lag(n: NodeNumber): Promise<void> {
    await this.run(['lag', String(n)], 30_000);
  }
  async unlag(n: NodeNumber): Promise<void> {
    await this.run(['unlag', String(n)], 30_000);
  }
  /** Insert `kb` KiB on the primary through HAProxy pg_primary. */
  async write(kb: number): Promise<void> {
    await this.run(['write', String(Math.max(1, Math.round(kb)))], 120_000);
  }
  async pause(): Promise<void> {
    await this.run(['pause'], 60_000);
  }
  async resume(): Promise<void> {
    await this.run(['resume'], 60_000);
  }
  /** Stop everything `up` started; `purge` also deletes the state dir. */
  async down(opts: { purge?: boolean } = {}): Promise<void> {
    await this.run(opts.purge === true ? ['down', '--purge'] : ['down'], 180_000);
  }
}

/**
 * Bring the lab up (`scripts/lab up`, reuses a healthy running lab) and describe it.
 * Throws when not root; call labSkipReason() first to skip instead.
 */
export async function startLab(opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Lab> {
  const reason = labSkipReason();
  if (reason !== undefined) throw new Error(`cannot start the HA lab: ${reason}`);
  const env = opts.env ?? {};
  await runLab(['up'], { env, timeoutMs: opts.timeoutMs ?? 600_000 }); // first run may apt-get install
  return new Lab(labInfoFromEnv(parseLabEnv((await runLab(['env'], { env, timeoutMs: 15_000 })).stdout)), env);
}

/** Describe the lab without starting it (e.g. for a lab someone already brought up). */
export async function labInfo(env: NodeJS.ProcessEnv = {}): Promise<LabInfo> {
  return labInfoFromEnv(parseLabEnv((await runLab(['env'], { env, timeoutMs: 15_000 })).stdout));
}

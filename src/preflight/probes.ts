/**
 * The start-up probes: one small, bounded request set per source, each turned into the plain
 * value its review (reviews.ts) reads. Failures are values, never exceptions.
 */
import { Client } from '@elastic/elasticsearch';
import pg from 'pg';
import type { Config } from '../config/schema.js';
import { classifyError, clientOptions } from '../sources/elasticsearch/client.js';
import { createEtcdSource, type EtcdState } from '../sources/etcd/client.js';
import { createHaproxySource } from '../sources/haproxy/client.js';
import type { HaproxyStats } from '../sources/haproxy/status.js';
import { httpGetText, type Got } from '../sources/http-get.js';
import type { Observation } from '../sources/observation.js';
import { classify as classifyPg, targetOf } from '../sources/postgres/client.js';
import type { EsProbe, PatroniMemberProbe, PgNodeProbe } from './reviews.js';

type EsConfig = NonNullable<Config['sources']['elasticsearch']>;

/** Plain JSON is accepted by every Elasticsearch version, whatever compatible-with is configured. */
const PLAIN = { accept: 'application/json', 'content-type': 'application/json' };

/** `GET /`, then a count on each pattern with allow_no_indices=false: a 404 index_not_found means it matches nothing. */
export async function probeElasticsearch(
  cfg: EsConfig,
  patterns: readonly { key: string; pattern: string }[],
): Promise<EsProbe> {
  const client = new Client(clientOptions(cfg, 9));
  const opts = { headers: PLAIN, requestTimeout: cfg.timeout, maxRetries: 1 };
  try {
    let version: Got<string>;
    try {
      const info = await client.info(undefined, opts);
      version = { ok: true, value: String(info.version?.number ?? '') };
    } catch (e) {
      return { version: { ok: false, error: classifyError(e) } };
    }
    const indices = await Promise.all(
      patterns.map(async ({ key, pattern }) => {
        try {
          await client.count({ index: pattern, allow_no_indices: false, ignore_unavailable: true }, opts);
          return { key, pattern, result: { ok: true, value: 'matches' } as const };
        } catch (e) {
          const body = (e as { meta?: { statusCode?: number; body?: { error?: { type?: string } } } }).meta;
          if (body?.statusCode === 404 && body.body?.error?.type === 'index_not_found_exception')
            return { key, pattern, result: { ok: true, value: 'none' } as const };
          return { key, pattern, result: { ok: false, error: classifyError(e) } as const };
        }
      }),
    );
    return { version, indices };
  } finally {
    await client.close();
  }
}

function parseJson(body: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(body);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** Each configured member's `GET /patroni` (own name, scope) and `GET /cluster` (scope, members). */
export async function probePatroni(cfg: NonNullable<Config['sources']['patroni']>): Promise<PatroniMemberProbe[]> {
  const get = (url: string) =>
    httpGetText(url, {
      timeoutMs: cfg.timeout,
      ...(cfg.username ? { auth: { username: cfg.username, password: cfg.password ?? '' } } : {}),
    });
  return Promise.all(
    cfg.members.map(async (m): Promise<PatroniMemberProbe> => {
      const base = m.url.replace(/\/+$/, '');
      const [s, c] = await Promise.all([get(`${base}/patroni`), get(`${base}/cluster`)]);
      const malformed = (what: string) => ({
        ok: false as const,
        error: { kind: 'malformed' as const, message: `${what} is not a JSON object`, target: `${base}/${what}` },
      });
      let status: PatroniMemberProbe['status'] = s.ok ? malformed('patroni') : s;
      const so = s.ok ? parseJson(s.value) : undefined;
      if (so) {
        const p = (typeof so['patroni'] === 'object' && so['patroni'] !== null ? so['patroni'] : {}) as Record<
          string,
          unknown
        >;
        const name = str(p['name']);
        const scope = str(p['scope']);
        status = {
          ok: true,
          value: { ...(name !== undefined ? { name } : {}), ...(scope !== undefined ? { scope } : {}) },
        };
      }
      let cluster: PatroniMemberProbe['cluster'] = c.ok ? malformed('cluster') : c;
      const co = c.ok ? parseJson(c.value) : undefined;
      if (co) {
        const list = Array.isArray(co['members']) ? (co['members'] as unknown[]) : [];
        const members = list.flatMap((x) => {
          const o = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
          const name = str(o['name']);
          const apiUrl = str(o['api_url']);
          return name === undefined ? [] : [{ name, ...(apiUrl !== undefined ? { apiUrl } : {}) }];
        });
        const scope = str(co['scope']);
        cluster = { ok: true, value: { members, ...(scope !== undefined ? { scope } : {}) } };
      }
      return { name: m.name, url: m.url, status, cluster };
    }),
  );
}

export function probeHaproxy(cfg: NonNullable<Config['sources']['haproxy']>): Promise<Observation<HaproxyStats>> {
  return createHaproxySource({
    timeoutMs: cfg.timeout,
    writeBackend: cfg.write_backend,
    ...(cfg.stats_url ? { statsUrl: cfg.stats_url } : {}),
    ...(cfg.username ? { username: cfg.username } : {}),
    ...(cfg.password ? { password: cfg.password } : {}),
    ...(cfg.socket ? { socket: cfg.socket } : {}),
  }).poll();
}

/** Logs in to each node and asks whether the role inherits pg_monitor (directly or through another role). */
export async function probePostgres(cfg: NonNullable<Config['sources']['postgres']>): Promise<PgNodeProbe[]> {
  return Promise.all(
    cfg.nodes.map(async (n): Promise<PgNodeProbe> => {
      const target = targetOf(n.dsn);
      const client = new pg.Client({
        connectionString: n.dsn,
        connectionTimeoutMillis: cfg.connect_timeout,
        statement_timeout: cfg.statement_timeout,
        query_timeout: cfg.statement_timeout + 500,
        application_name: 'odoo-ha-watch preflight',
        keepAlive: false,
      });
      client.on('error', () => {});
      try {
        await client.connect();
        const r = await client.query<{ u: string; m: boolean }>(
          "select current_user as u, pg_has_role(current_user, 'pg_monitor', 'member') as m",
        );
        const row = r.rows[0]!;
        return { name: n.name, target, ok: true, user: row.u, pgMonitor: row.m === true };
      } catch (e) {
        return { name: n.name, target, ok: false, error: classifyPg(e, cfg.connect_timeout) };
      } finally {
        await client.end().catch(() => {});
      }
    }),
  );
}

export function probeEtcd(cfg: NonNullable<Config['sources']['etcd']>): Promise<Observation<EtcdState>> {
  return createEtcdSource({ endpoints: cfg.endpoints, timeoutMs: cfg.timeout }).poll();
}

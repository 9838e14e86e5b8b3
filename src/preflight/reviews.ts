/**
 * Pure reviews of one start-up probe per source: each turns what the source answered into findings
 * that name the config key to edit. No I/O here (probes.ts asks); every case is a unit test.
 */
import type { Config } from '../config/schema.js';
import type { Got } from '../sources/http-get.js';
import type { HaproxyStats } from '../sources/haproxy/status.js';
import type { EtcdState } from '../sources/etcd/client.js';
import type { Observation, SourceError } from '../sources/observation.js';
import type { Finding } from './finding.js';

const at = (e: SourceError) => (e.target ? `${e.target}: ${e.message}` : e.message);

// ---- Elasticsearch ----

export interface EsProbe {
  /** `GET /` version number. */
  version: Got<string>;
  /** Each index pattern the enabled log rules read, and whether it matches any index. Absent when the version probe failed. */
  indices?: { key: string; pattern: string; result: Got<'matches' | 'none'> }[];
}

export function reviewElasticsearch(
  p: EsProbe,
  cfg: Pick<NonNullable<Config['sources']['elasticsearch']>, 'server_major' | 'nodes'>,
): Finding[] {
  const f = (severity: Finding['severity'], what: string, fix: string): Finding => ({
    severity,
    source: 'elasticsearch',
    what,
    fix,
  });
  if (!p.version.ok) {
    const e = p.version.error;
    if (e.kind === 'auth')
      return [
        f(
          'error',
          `Elasticsearch refuses the credentials (${e.message})`,
          'set sources.elasticsearch.username/password (or api_key) to a user that may read the log indices',
        ),
      ];
    if (e.kind === 'unreachable' || e.kind === 'timeout')
      return [
        f(
          'warning',
          `Elasticsearch does not answer (${e.message}); the log rules report it until it does`,
          `check sources.elasticsearch.nodes (${cfg.nodes.join(', ')}) and that Elasticsearch runs`,
        ),
      ];
    return [
      f(
        'error',
        `Elasticsearch answers GET / with ${e.message}`,
        `check that sources.elasticsearch.nodes (${cfg.nodes.join(', ')}) point at Elasticsearch itself, not a proxy or Kibana`,
      ),
    ];
  }
  const version = p.version.value;
  const major = Number(/^(\d+)\./.exec(version)?.[1]);
  if (!Number.isInteger(major) || major < 8)
    return [
      f(
        'error',
        `Elasticsearch ${version || '(no version)'} answers; odoo-ha-watch needs 8.x or later`,
        'upgrade Elasticsearch to 8.x or 9.x',
      ),
    ];
  const out: Finding[] = [];
  // ES accepts compatible-with equal to its own major or the previous one; the client speaks 8 or 9.
  const fits = (m: number) => m === major || m === major - 1;
  if (cfg.server_major !== 'auto' && !fits(cfg.server_major)) {
    const want = Math.min(major, 9);
    out.push(
      f(
        'error',
        `Elasticsearch ${version} answers but sources.elasticsearch.server_major is ${cfg.server_major}: every search would fail with HTTP 400 media_type_header_exception`,
        `set sources.elasticsearch.server_major: ${want} (or auto)`,
      ),
    );
  }
  for (const i of p.indices ?? []) {
    if (i.result.ok) {
      if (i.result.value === 'none')
        out.push(
          f(
            'warning',
            `index pattern ${i.pattern} (sources.elasticsearch.indices.${i.key}) matches no index: the log rules reading it find nothing`,
            `ship the logs there (filebeat/README.md) or set sources.elasticsearch.indices.${i.key} to the pattern your indices use`,
          ),
        );
    } else if (i.result.error.kind === 'auth') {
      out.push(
        f(
          'error',
          `Elasticsearch user may not read ${i.pattern} (${i.result.error.message})`,
          `grant the user read and view_index_metadata on ${i.pattern}`,
        ),
      );
    } else {
      out.push(
        f(
          'warning',
          `searching ${i.pattern} (sources.elasticsearch.indices.${i.key}) failed: ${i.result.error.message}`,
          'check the pattern and the cluster health (GET /_cluster/health)',
        ),
      );
    }
  }
  return out;
}

// ---- Patroni ----

export interface PatroniMemberProbe {
  /** As configured in sources.patroni.members. */
  name: string;
  url: string;
  /** `GET /patroni`: the member's own name and scope (`patroni.name`, `patroni.scope`). */
  status: Got<{ name?: string; scope?: string }>;
  /** `GET /cluster`: the scope and every member with its REST URL. */
  cluster: Got<{ scope?: string; members: { name: string; apiUrl?: string }[] }>;
}

/** `http://h:8008/patroni` → `http://h:8008` (the base URL sources.patroni.members wants). */
export function restBase(apiUrl: string): string {
  return apiUrl.replace(/\/patroni\/?$/, '').replace(/\/+$/, '');
}

export function reviewPatroni(members: readonly PatroniMemberProbe[], clusterName: string): Finding[] {
  const f = (severity: Finding['severity'], what: string, fix: string): Finding => ({
    severity,
    source: 'patroni',
    what,
    fix,
  });
  const out: Finding[] = [];
  const errors = members.flatMap((m) => [m.status, m.cluster].flatMap((g) => (g.ok ? [] : [{ m, e: g.error }])));
  const auth = errors.find((x) => x.e.kind === 'auth');
  if (auth)
    out.push(
      f(
        'error',
        `Patroni REST API of ${auth.m.name} refuses the credentials (${auth.e.message})`,
        'set sources.patroni.username/password to restapi.authentication of patroni.yml',
      ),
    );
  const answered = members.filter((m) => m.status.ok || m.cluster.ok);
  if (!answered.length) {
    if (!auth)
      out.push(
        f(
          'warning',
          `no Patroni member answers (${members.map((m) => `${m.name}: ${m.status.ok ? 'ok' : at(m.status.error)}`).join('; ')}); the cluster rules report it until one does`,
          'check sources.patroni.members[].url (the REST API, port 8008 by default) and that Patroni runs',
        ),
      );
    return out;
  }
  for (const m of members) {
    if (answered.includes(m) || m.status.ok || (!m.status.ok && m.status.error.kind === 'auth')) continue;
    out.push(
      f(
        'warning',
        `Patroni member ${m.name} does not answer (${at(m.status.error)}); the other members' views are used meanwhile`,
        `check its url in sources.patroni.members (${m.url}) and that Patroni runs there`,
      ),
    );
  }
  const scopes = new Map<string, string[]>();
  for (const m of answered) {
    const s = (m.status.ok ? m.status.value.scope : undefined) ?? (m.cluster.ok ? m.cluster.value.scope : undefined);
    if (s !== undefined) scopes.set(s, [...(scopes.get(s) ?? []), m.name]);
  }
  if (scopes.size > 1) {
    out.push(
      f(
        'error',
        `sources.patroni.members belong to different Patroni clusters: ${[...scopes].map(([s, ns]) => `${ns.join(', ')} in scope ${s}`).join('; ')}`,
        'list only the members of one cluster in sources.patroni.members',
      ),
    );
  } else if (scopes.size === 1) {
    const [scope] = [...scopes.keys()] as [string];
    if (scope !== clusterName)
      out.push(
        f(
          'error',
          `Patroni answers with scope ${scope} but cluster.name is ${clusterName}: either these are another cluster's members or alerts would name the wrong cluster`,
          `set cluster.name: ${scope} if these are the members to watch, else point sources.patroni.members at cluster ${clusterName}`,
        ),
      );
  }
  const configured = new Set(members.map((m) => m.name));
  const configuredUrls = new Set(members.map((m) => restBase(m.url)));
  const listed = answered.flatMap((m) => (m.cluster.ok ? m.cluster.value.members : []));
  for (const m of answered) {
    // Patroni 3.0 has no name in /patroni: the member listed in /cluster with this REST URL is the one.
    const own =
      (m.status.ok ? m.status.value.name : undefined) ??
      listed.find((x) => x.apiUrl && restBase(x.apiUrl) === restBase(m.url))?.name;
    if (own !== undefined && own !== m.name)
      out.push(
        f(
          'warning',
          `sources.patroni.members entry ${m.name} (${m.url}) is the Patroni member named ${own}`,
          `name it ${own} (patroni.yml name) so alerts, /status and HAProxy/PostgreSQL matching use Patroni's name`,
        ),
      );
  }
  const seen = new Map<string, string | undefined>();
  for (const x of listed) if (!seen.has(x.name) || x.apiUrl) seen.set(x.name, x.apiUrl);
  for (const [name, apiUrl] of seen) {
    if (configured.has(name) || (apiUrl && configuredUrls.has(restBase(apiUrl)))) continue;
    out.push(
      f(
        'warning',
        `Patroni member ${name} is in the cluster but not in sources.patroni.members: its own view is never read`,
        `add { name: ${name}, url: ${apiUrl ? restBase(apiUrl) : '<its REST API URL>'} } to sources.patroni.members`,
      ),
    );
  }
  return out;
}

// ---- HAProxy ----

export function reviewHaproxy(
  obs: Observation<HaproxyStats>,
  cfg: Pick<
    NonNullable<Config['sources']['haproxy']>,
    'write_backend' | 'read_backend' | 'app_backends' | 'stats_url' | 'socket'
  >,
): Finding[] {
  const f = (severity: Finding['severity'], what: string, fix: string): Finding => ({
    severity,
    source: 'haproxy',
    what,
    fix,
  });
  const where = cfg.socket ? `sources.haproxy.socket (${cfg.socket})` : `sources.haproxy.stats_url (${cfg.stats_url})`;
  if (!obs.ok) {
    const e = obs.error;
    if (e.kind === 'auth')
      return [
        f(
          'error',
          `the HAProxy stats page refuses the credentials (${e.message})`,
          'set sources.haproxy.username/password to the `stats auth` user:password of haproxy.cfg',
        ),
      ];
    if (e.kind === 'unreachable' || e.kind === 'timeout')
      return [
        f(
          'warning',
          `HAProxy stats do not answer (${at(e)}); the HAProxy rules report it until they do`,
          `check ${where} and that HAProxy runs`,
        ),
      ];
    return [
      f(
        'error',
        `HAProxy stats answer ${at(e)}`,
        `check that ${where} is the \`stats uri\` of haproxy.cfg (e.g. http://lb:8404/stats) or the Runtime API socket`,
      ),
    ];
  }
  const names = [...new Set(obs.value.backends.map((b) => b.name))];
  const out: Finding[] = [];
  const wanted: [string, string][] = [
    ['write_backend', cfg.write_backend],
    ...(cfg.read_backend ? [['read_backend', cfg.read_backend] as [string, string]] : []),
    ...(cfg.app_backends ?? []).map((n, i) => [`app_backends[${i}]`, n] as [string, string]),
  ];
  for (const [key, name] of wanted) {
    if (names.includes(name)) continue;
    out.push(
      f(
        'error',
        `backend ${name} (sources.haproxy.${key}) is not in HAProxy's stats (backends: ${names.join(', ') || 'none'})`,
        `set sources.haproxy.${key} to the backend name of haproxy.cfg`,
      ),
    );
  }
  return out;
}

// ---- PostgreSQL ----

export type PgNodeProbe = { name: string; target: string } & (
  | { ok: true; user: string; pgMonitor: boolean }
  | { ok: false; error: SourceError }
);

export function reviewPostgres(nodes: readonly PgNodeProbe[]): Finding[] {
  const f = (severity: Finding['severity'], what: string, fix: string): Finding => ({
    severity,
    source: 'postgres',
    what,
    fix,
  });
  const out: Finding[] = [];
  for (const n of nodes) {
    if (n.ok) {
      if (!n.pgMonitor)
        out.push(
          f(
            'error',
            `role ${n.user} on ${n.name} (${n.target}) is not a member of pg_monitor: replication, lag and slot columns read as NULL (unknown)`,
            `GRANT pg_monitor TO ${n.user}; on the primary (or use a pg_monitor role in sources.postgres.nodes dsn)`,
          ),
        );
    } else if (n.error.kind === 'auth') {
      out.push(
        f(
          'error',
          `PostgreSQL ${n.name} (${n.target}) refuses the login: ${n.error.message}`,
          'check user and password in its sources.postgres.nodes dsn, and pg_hba.conf on the node',
        ),
      );
    } else if (n.error.kind === 'unreachable' || n.error.kind === 'timeout') {
      out.push(
        f(
          'warning',
          `PostgreSQL ${n.name} (${n.target}) does not answer: ${n.error.message}`,
          'check host:port in its sources.postgres.nodes dsn (the node itself, not HAProxy) and that PostgreSQL runs',
        ),
      );
    } else {
      out.push(
        f(
          'warning',
          `PostgreSQL ${n.name} (${n.target}): ${n.error.message}`,
          'check the database and options in its sources.postgres.nodes dsn',
        ),
      );
    }
  }
  return out;
}

// ---- etcd ----

export function reviewEtcd(obs: Observation<EtcdState>): Finding[] {
  const f = (severity: Finding['severity'], what: string, fix: string): Finding => ({
    severity,
    source: 'etcd',
    what,
    fix,
  });
  if (!obs.ok) {
    if (obs.error.kind === 'auth')
      return [
        f(
          'error',
          `etcd refuses the request (${obs.error.message})`,
          'allow anonymous reads of /health and /version, or put a proxy with credentials in front',
        ),
      ];
    return [
      f(
        'warning',
        `${obs.error.message}; the etcd rules report it until one does`,
        'check sources.etcd.endpoints (client URLs, port 2379 by default) and that etcd runs',
      ),
    ];
  }
  return obs.value.endpoints
    .filter((e) => !e.reachable)
    .map((e) =>
      f(
        'warning',
        `etcd endpoint ${e.endpoint} does not answer (${e.error ?? 'no answer'})`,
        'check it in sources.etcd.endpoints (a client URL, port 2379 by default) and that etcd runs there',
      ),
    );
}

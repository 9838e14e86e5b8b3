/**
 * Which HAProxy server, PostgreSQL node (config) or Odoo worker is which cluster member. Names are
 * chosen independently in patroni.yml (`name: pg-node-1`), haproxy.cfg (`server pg1 …`) and our
 * config, so they are joined by **network address** first, then by name; an explicit map wins
 * over both. Pure: every rule and view that joins two sources goes through here, so they agree.
 *
 * Matching order for one item (a server, a node, a worker) against the members:
 * 1. the explicit map (`server_members`), when it names the item;
 * 2. host:port equal to a member's PostgreSQL address (`/cluster` host+port, or its conn_url),
 *    then to its REST address (`api_url`);
 * 3. host alone, when exactly one member has that host and no other item matched it exactly (a
 *    pooler port in front of PostgreSQL, a longpolling port 8072 next to 8069, a DSN without port);
 * 4. the same name.
 * Two items matched to one member are both left unmatched (which one is it? unknown), and so is an
 * item that matches nothing: callers treat "unmatched" as unknown, never as a mismatch.
 */

export interface Endpoint {
  /** lower-case; IPv6 without brackets */
  host: string;
  port?: number;
}

export interface MemberAddress {
  name: string;
  /** PostgreSQL address (Patroni `/cluster` host/port, i.e. postgresql.connect_address). */
  host?: string;
  port?: number;
  /** postgres://host:port/… from the DCS member data, when available. */
  connUrl?: string;
  /** Patroni REST API URL (`api_url`, or the URL we poll it at). */
  apiUrl?: string;
}

export interface TopologyItem {
  name: string;
  /** Where the item points: HAProxy `addr`, a DSN, a URL. */
  endpoint?: Endpoint;
}

export type MatchHow = 'map' | 'address' | 'host' | 'name';

export interface TopologyProblem {
  kind: 'unmatched' | 'shared';
  /** The items concerned (one for unmatched, ≥ 2 for shared). */
  items: string[];
  member?: string;
  /** What is wrong and how to fix it, one line. */
  message: string;
}

export interface Matching {
  /** item name → member name, for the items matched without ambiguity. */
  members: ReadonlyMap<string, { member: string; how: MatchHow }>;
  problems: TopologyProblem[];
}

const normHost = (h: string): string =>
  h
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');

/** "10.0.1.11:5432", "[::1]:5432", "db1" → endpoint; undefined for an empty or unparsable value. */
export function parseHostPort(s: string | undefined): Endpoint | undefined {
  if (!s?.trim()) return undefined;
  const t = s.trim();
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (v6) return { host: normHost(v6[1]!), ...(v6[2] ? { port: Number(v6[2]) } : {}) };
  const m = /^([^:\s]+)(?::(\d+))?$/.exec(t);
  if (m) return { host: normHost(m[1]!), ...(m[2] ? { port: Number(m[2]) } : {}) };
  // A bare IPv6 address (several colons, no brackets) has no port.
  if (/^[0-9a-f:]+$/i.test(t) && t.includes('::')) return { host: normHost(t) };
  return undefined;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'postgres:': 5432, 'postgresql:': 5432 };

/** http(s):// or postgres(ql):// URL → endpoint (scheme's default port when none is given). */
export function endpointOfUrl(url: string | undefined): Endpoint | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    if (!u.hostname) return undefined;
    const port = u.port ? Number(u.port) : DEFAULT_PORTS[u.protocol];
    return { host: normHost(u.hostname), ...(port !== undefined ? { port } : {}) };
  } catch {
    return undefined;
  }
}

/** A libpq DSN, URL form or `host=… port=…`; the first host of a multi-host DSN. */
export function endpointOfDsn(dsn: string): Endpoint | undefined {
  if (/^postgres(ql)?:\/\//i.test(dsn.trim())) {
    // new URL() rejects multi-host URLs (h1:5432,h2:5432): keep the first host.
    const m = /^postgres(?:ql)?:\/\/(?:[^@/]*@)?([^/?,]+)/i.exec(dsn.trim());
    const ep = parseHostPort(m?.[1]);
    return ep ? { host: ep.host, port: ep.port ?? 5432 } : undefined;
  }
  const kv = (k: string) => new RegExp(`(?:^|\\s)${k}\\s*=\\s*'?([^'\\s]+)`).exec(dsn)?.[1];
  const host = kv('host')?.split(',')[0] ?? kv('hostaddr')?.split(',')[0];
  if (!host) return undefined;
  return { host: normHost(host), port: Number(kv('port')?.split(',')[0] ?? 5432) };
}

const same = (a: Endpoint | undefined, b: Endpoint | undefined, withPort: boolean): boolean =>
  a !== undefined && b !== undefined && a.host === b.host && (!withPort || (a.port !== undefined && a.port === b.port));

function addressesOf(m: MemberAddress): { pg: Endpoint[]; api: Endpoint[] } {
  const pg: Endpoint[] = [];
  if (m.host) pg.push({ host: normHost(m.host), ...(m.port !== undefined ? { port: m.port } : {}) });
  const conn = m.connUrl ? endpointOfDsn(m.connUrl) : undefined;
  if (conn) pg.push(conn);
  const api = endpointOfUrl(m.apiUrl);
  return { pg, api: api ? [api] : [] };
}

const show = (e: Endpoint | undefined) =>
  e ? (e.port !== undefined ? `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}` : e.host) : 'no address';

/**
 * Matches items to members (see the module comment). `what` names the items in messages
 * ("HAProxy server", "postgres node"); `fix` says where to put an explicit mapping.
 */
export function matchMembers(
  items: readonly TopologyItem[],
  members: readonly MemberAddress[],
  opts: { what: string; fix: string; to?: string; noAddressFix?: string; explicit?: Readonly<Record<string, string>> },
): Matching {
  const to = opts.to ?? 'Patroni member';
  const addrs = members.map((m) => ({ m, ...addressesOf(m) }));
  const found = new Map<string, { member: string; how: MatchHow }>();
  const problems: TopologyProblem[] = [];
  const one = (hits: typeof addrs) => (hits.length === 1 ? hits[0]!.m.name : undefined);
  // Pass 1: explicit map and exact host:port. Pass 2 (host alone, then name) only for the rest, and
  // never onto a member another item matched exactly (odoo2 on the host of odoo1 is not odoo1).
  const rest: TopologyItem[] = [];
  for (const it of items) {
    const mapped = opts.explicit?.[it.name];
    const ep = it.endpoint;
    const exact =
      mapped ??
      (ep
        ? (one(addrs.filter((a) => a.pg.some((x) => same(x, ep, true)))) ??
          one(addrs.filter((a) => a.api.some((x) => same(x, ep, true)))))
        : undefined);
    if (exact !== undefined) found.set(it.name, { member: exact, how: mapped !== undefined ? 'map' : 'address' });
    else rest.push(it);
  }
  const taken = new Set([...found.values()].map((f) => f.member));
  for (const it of rest) {
    const ep = it.endpoint;
    let member: string | undefined;
    let how: MatchHow = 'host';
    if (ep) {
      // Only when the host names one member (no elimination), and that member is not taken.
      const m = one(addrs.filter((a) => [...a.pg, ...a.api].some((x) => same(x, ep, false))));
      if (m !== undefined && !taken.has(m)) member = m;
    }
    if (member === undefined && members.some((m) => m.name === it.name)) {
      how = 'name';
      member = it.name;
    }
    if (member === undefined) {
      const known =
        members.map((m) => `${m.name} (${show(addressesOf(m).pg[0] ?? addressesOf(m).api[0])})`).join(', ') ||
        'none visible';
      problems.push({
        kind: 'unmatched',
        items: [it.name],
        message: `${opts.what} ${it.name} (${show(ep)}) matches no ${to} by address or name (${to}s: ${known}); fix: ${!ep && opts.noAddressFix ? `${opts.noAddressFix}, or ` : ''}${opts.fix}`,
      });
      continue;
    }
    found.set(it.name, { member, how });
  }
  // Two items on one member: which one is it? Unknown for both (an explicit map is trusted as given).
  const byMember = new Map<string, string[]>();
  for (const [item, f] of found) if (f.how !== 'map') byMember.set(f.member, [...(byMember.get(f.member) ?? []), item]);
  for (const [member, its] of byMember) {
    if (its.length < 2) continue;
    for (const i of its) found.delete(i);
    problems.push({
      kind: 'shared',
      items: its,
      member,
      message: `${opts.what}s ${its.join(', ')} all match ${to} ${member}; fix: ${opts.fix}`,
    });
  }
  return { members: found, problems };
}

/** Patroni members as address records: DCS host/port, api_url (or the URL we poll it at). */
export function memberAddresses(
  members: readonly { name: string; host?: string; port?: number; apiUrl?: string }[],
): MemberAddress[] {
  return members.map((m) => ({
    name: m.name,
    ...(m.host !== undefined ? { host: m.host } : {}),
    ...(m.port !== undefined ? { port: m.port } : {}),
    ...(m.apiUrl !== undefined ? { apiUrl: m.apiUrl } : {}),
  }));
}

export const HAPROXY_FIX =
  "make the server address in haproxy.cfg the member's postgresql.connect_address, or map it in the haproxy_write_backend rule: server_members: { <server>: <member> }";
/** HAProxy's stats page leaves `addr` empty unless the stats section says `stats show-legends`. */
export const HAPROXY_NO_ADDRESS_FIX =
  "the stats have no server address: add `stats show-legends` to HAProxy's stats section (the web page hides addresses without it) or read the Runtime API (sources.haproxy.socket)";
export const POSTGRES_FIX =
  "point the node's dsn at the member's postgresql.connect_address (host:port), or name the node like the Patroni member";

/** HAProxy servers of one backend → Patroni members. */
export function matchHaproxyServers(
  servers: readonly { name: string; addr?: string }[],
  members: readonly MemberAddress[],
  explicit?: Readonly<Record<string, string>>,
): Matching {
  return matchMembers(
    servers.map((s) => ({ name: s.name, ...(parseHostPort(s.addr) ? { endpoint: parseHostPort(s.addr)! } : {}) })),
    members,
    {
      what: 'HAProxy server',
      fix: HAPROXY_FIX,
      noAddressFix: HAPROXY_NO_ADDRESS_FIX,
      ...(explicit ? { explicit } : {}),
    },
  );
}

/** PostgreSQL nodes of the config (name + host:port target or DSN) → Patroni members. */
export function matchPostgresNodes(
  nodes: readonly { name: string; target?: string; dsn?: string }[],
  members: readonly MemberAddress[],
): Matching {
  return matchMembers(
    nodes.map((n) => {
      const ep = n.dsn ? endpointOfDsn(n.dsn) : parseHostPort(n.target);
      return { name: n.name, ...(ep ? { endpoint: ep } : {}) };
    }),
    members,
    { what: 'postgres node', fix: POSTGRES_FIX },
  );
}

/**
 * Odoo workers in HAProxy ↔ `http` rule targets: by URL host:port, then host alone when unique,
 * then name. Returns server name → target name, and the servers no target probes.
 */
export function matchWorkers(
  servers: readonly { name: string; addr?: string }[],
  targets: readonly { name: string; url: string }[],
): { targets: ReadonlyMap<string, string>; unmatched: string[] } {
  const m = matchMembers(
    servers.map((s) => ({ name: s.name, ...(parseHostPort(s.addr) ? { endpoint: parseHostPort(s.addr)! } : {}) })),
    targets.map((t) => {
      const ep = endpointOfUrl(t.url);
      return { name: t.name, ...(ep ? { host: ep.host, ...(ep.port !== undefined ? { port: ep.port } : {}) } : {}) };
    }),
    {
      what: 'HAProxy server',
      to: 'http target',
      fix: "probe the worker's address (host:port of the haproxy.cfg server line) in an http rule target",
    },
  );
  return {
    targets: new Map([...m.members].map(([k, v]) => [k, v.member])),
    unmatched: servers.map((s) => s.name).filter((n) => !m.members.has(n)),
  };
}

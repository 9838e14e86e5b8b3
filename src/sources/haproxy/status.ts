import type { StatsRow } from './csv.js';

/**
 * Server status normalized from HAProxy's strings: `UP`, `DOWN`, `NOLB`, `DRAIN`, `no check`,
 * `MAINT`, `MAINT (via px/srv)`, `MAINT (resolution)`, `DOWN (agent)`, `DRAIN (agent)`, and the
 * transitional `UP 2/3` (up, failing checks, still routed) / `DOWN 1/2` (down, passing, not routed yet).
 */
export type ServerState = 'UP' | 'DOWN' | 'MAINT' | 'DRAIN' | 'NOLB' | 'NO_CHECK' | 'UNKNOWN';

export interface NormalizedStatus {
  state: ServerState;
  /** Receives new traffic now (UP, UP n/m, no check). */
  routed: boolean;
  /** A transition is in progress: `UP 2/3` going down, `DOWN 1/2` coming up. */
  transitioning?: { toward: 'UP' | 'DOWN'; step: number; of: number };
  raw: string;
}

export function normalizeStatus(raw: string): NormalizedStatus {
  const s = raw.trim();
  const m = /^(UP|DOWN|NOLB|DRAIN)\s+(\d+)\/(\d+)$/.exec(s);
  if (m) {
    const state = m[1] as ServerState;
    const toward = state === 'UP' ? 'DOWN' : state === 'DOWN' ? 'UP' : 'DOWN';
    return { state, routed: state === 'UP', transitioning: { toward, step: Number(m[2]), of: Number(m[3]) }, raw: s };
  }
  if (s === 'UP') return { state: 'UP', routed: true, raw: s };
  if (s === 'no check') return { state: 'NO_CHECK', routed: true, raw: s };
  if (s.startsWith('MAINT')) return { state: 'MAINT', routed: false, raw: s };
  if (s.startsWith('DOWN')) return { state: 'DOWN', routed: false, raw: s };
  if (s.startsWith('DRAIN')) return { state: 'DRAIN', routed: false, raw: s };
  if (s.startsWith('NOLB')) return { state: 'NOLB', routed: false, raw: s };
  return { state: 'UNKNOWN', routed: false, raw: s };
}

export interface HaproxyServer {
  backend: string;
  name: string;
  status: NormalizedStatus;
  /** e.g. "L7OK", "L7STS", "L4CON" ("* " in-progress prefix removed) */
  checkStatus?: string;
  checkCode?: number;
  /** e.g. "Layer7 wrong status", "Layer4 connection problem" */
  checkDesc?: string;
  /** seconds since the last UP/DOWN change */
  lastChangeS?: number;
  sessions: number;
  sessionLimit?: number;
  queue: number;
  addr?: string;
}

export interface HaproxyBackend {
  name: string;
  /** BACKEND row status: UP | DOWN | ... */
  status: string;
  /** Active UP servers (BACKEND `act`). */
  activeServers?: number;
  sessions: number;
  sessionLimit?: number;
  queue: number;
  servers: HaproxyServer[];
}

export interface HaproxyStats {
  backends: HaproxyBackend[];
}

const int = (v: string | undefined): number | undefined =>
  v !== undefined && /^-?\d+$/.test(v) ? Number(v) : undefined;

/** Groups rows into backends with their servers; FRONTEND and listener rows are left out. */
export function toStats(rows: readonly StatsRow[]): HaproxyStats {
  const backends = new Map<string, HaproxyBackend>();
  const get = (name: string) => {
    let b = backends.get(name);
    if (!b) {
      b = { name, status: 'UNKNOWN', sessions: 0, queue: 0, servers: [] };
      backends.set(name, b);
    }
    return b;
  };
  for (const r of rows) {
    const px = r['pxname'];
    const sv = r['svname'];
    if (!px || !sv) continue;
    const type = r['type'];
    if (sv === 'FRONTEND' || type === '0' || type === '3') continue;
    if (sv === 'BACKEND' || type === '1') {
      const b = get(px);
      b.status = r['status'] ?? 'UNKNOWN';
      const act = int(r['act']);
      if (act !== undefined) b.activeServers = act;
      b.sessions = int(r['scur']) ?? 0;
      const slim = int(r['slim']);
      if (slim !== undefined && slim > 0) b.sessionLimit = slim;
      b.queue = int(r['qcur']) ?? 0;
      continue;
    }
    const s: HaproxyServer = {
      backend: px,
      name: sv,
      status: normalizeStatus(r['status'] ?? ''),
      sessions: int(r['scur']) ?? 0,
      queue: int(r['qcur']) ?? 0,
    };
    const cs = (r['check_status'] ?? '').replace(/^\*\s*/, '');
    if (cs) s.checkStatus = cs;
    const code = int(r['check_code']);
    if (code !== undefined) s.checkCode = code;
    if (r['check_desc']) s.checkDesc = r['check_desc'];
    const lc = int(r['lastchg']);
    if (lc !== undefined) s.lastChangeS = lc;
    const slim = int(r['slim']);
    if (slim !== undefined && slim > 0) s.sessionLimit = slim;
    if (r['addr']) s.addr = r['addr'];
    get(px).servers.push(s);
  }
  return { backends: [...backends.values()] };
}

export function findBackend(stats: HaproxyStats, name: string): HaproxyBackend | undefined {
  return stats.backends.find((b) => b.name === name);
}

/** "DOWN (Layer7 wrong status, code 503)" */
export function describeServer(s: HaproxyServer): string {
  const why = [s.checkDesc ?? s.checkStatus, s.checkCode !== undefined ? `code ${s.checkCode}` : undefined]
    .filter(Boolean)
    .join(', ');
  return `${s.status.raw}${why ? ` (${why})` : ''}`;
}

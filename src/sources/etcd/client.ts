import { failed, observed, type Observation } from '../observation.js';
import { httpGetText } from '../http-get.js';
import { excerpt } from '../../util/text.js';

export interface EtcdMemberState {
  endpoint: string;
  reachable: boolean;
  error?: string;
  /** `/health` said {"health":"true"} */
  healthy: boolean;
  healthReason?: string;
  /** `/health` answered something unreadable (not JSON, no "health", 404, auth): healthy or not is unknown. */
  healthUnknown?: string;
  version?: string;
  /** member id (decimal string, as the v3 JSON gateway encodes uint64) */
  memberId?: string;
  /** id of the leader this member knows, absent/"0" = no leader */
  leaderId?: string;
  isLeader?: boolean;
  raftTerm?: number;
  dbSizeBytes?: number;
  errors?: string[];
}

export interface EtcdState {
  at: number;
  endpoints: EtcdMemberState[];
  /** Cluster size per the member list (any reachable member), else the configured endpoint count. */
  memberCount: number;
  /** A member list was read (else memberCount is only the configured endpoint count). */
  membersKnown: boolean;
  memberNames: string[];
  healthyCount: number;
  /** floor(n/2)+1 */
  quorum: number;
  hasQuorum: boolean;
  /** Set when quorum cannot be judged: too few healthy members and some answered `/health` unreadably. */
  quorumUnknown?: string;
  /** Distinct leaders known by reachable members (more than one = split view). */
  leaders: string[];
}

export interface EtcdSource {
  poll(signal?: AbortSignal): Promise<Observation<EtcdState>>;
}

// ---- pure parsers ----
export function parseHealth(body: string): { healthy: boolean; reason?: string; unknown?: string } {
  let o: { health?: unknown; reason?: unknown };
  try {
    o = JSON.parse(body) as { health?: unknown; reason?: unknown };
  } catch {
    return { healthy: false, unknown: `unexpected /health body: ${excerpt(body, 80)}` };
  }
  if (typeof o !== 'object' || o === null || !('health' in o))
    return { healthy: false, unknown: `no "health" in /health body: ${excerpt(body, 80)}` };
  const healthy = o.health === true || o.health === 'true';
  return { healthy, ...(typeof o.reason === 'string' && o.reason ? { reason: o.reason } : {}) };
}

export function parseStatus(
  body: string,
): Pick<EtcdMemberState, 'version' | 'memberId' | 'leaderId' | 'raftTerm' | 'dbSizeBytes' | 'errors'> {
  const o = JSON.parse(body) as Record<string, unknown> & { header?: Record<string, unknown> };
  const out: ReturnType<typeof parseStatus> = {};
  if (typeof o['version'] === 'string') out.version = o['version'];
  const mid = o.header?.['member_id'];
  if (mid !== undefined) out.memberId = String(mid);
  if (o['leader'] !== undefined) out.leaderId = String(o['leader']);
  if (o['raftTerm'] !== undefined) out.raftTerm = Number(o['raftTerm']);
  if (o['dbSize'] !== undefined) out.dbSizeBytes = Number(o['dbSize']);
  if (Array.isArray(o['errors'])) out.errors = o['errors'].map(String);
  return out;
}

export function parseMemberList(body: string): { id: string; name: string }[] {
  const o = JSON.parse(body) as { members?: { ID?: unknown; name?: unknown }[] };
  return (o.members ?? []).map((m) => ({ id: String(m.ID ?? ''), name: String(m.name ?? '') }));
}

export function summarize(
  endpoints: EtcdMemberState[],
  members: { id: string; name: string }[] | undefined,
  at: number,
): EtcdState {
  const memberCount = members?.length || endpoints.length;
  const quorum = Math.floor(memberCount / 2) + 1;
  const healthyCount = endpoints.filter((e) => e.healthy).length;
  const leaders = [
    ...new Set(endpoints.filter((e) => e.reachable && e.leaderId && e.leaderId !== '0').map((e) => e.leaderId!)),
  ];
  for (const e of endpoints) if (e.leaderId && e.memberId) e.isLeader = e.leaderId === e.memberId;
  // Quorum: a healthy member (etcd's /health requires a leader and a committed read) proves the cluster has
  // quorum; the optional status endpoint (leader ids) is not needed for it.
  const hasQuorum = healthyCount > 0;
  const unreadable = endpoints.filter((e) => e.healthUnknown);
  const out: EtcdState = {
    at,
    endpoints,
    memberCount,
    membersKnown: members !== undefined,
    memberNames: (members ?? []).map((m) => m.name),
    healthyCount,
    quorum,
    hasQuorum,
    leaders,
  };
  if (healthyCount < quorum && unreadable.length)
    out.quorumUnknown = `${healthyCount} healthy, ${unreadable.length} unreadable (${unreadable.map((e) => `${e.endpoint}: ${e.healthUnknown}`).join('; ')})`;
  return out;
}

export function createEtcdSource(o: { endpoints: string[]; timeoutMs: number }): EtcdSource {
  const base = (u: string) => u.replace(/\/+$/, '');
  return {
    async poll(signal) {
      const at = new Date();
      let members: { id: string; name: string }[] | undefined;
      const endpoints = await Promise.all(
        o.endpoints.map(async (ep): Promise<EtcdMemberState> => {
          const opts = { timeoutMs: o.timeoutMs, ...(signal ? { signal } : {}) };
          const [health, status, list] = await Promise.all([
            httpGetText(`${base(ep)}/health`, opts),
            httpGetText(`${base(ep)}/v3/maintenance/status`, { ...opts, method: 'POST', data: {} }),
            httpGetText(`${base(ep)}/v3/cluster/member/list`, { ...opts, method: 'POST', data: {} }),
          ]);
          const st: EtcdMemberState = {
            endpoint: ep,
            reachable: health.ok || status.ok || (!health.ok && health.error.kind === 'http_status'),
            healthy: false,
          };
          if (health.ok) {
            const h = parseHealth(health.value);
            st.healthy = h.healthy;
            if (h.reason) st.healthReason = h.reason;
            if (h.unknown) st.healthUnknown = h.unknown;
          } else {
            // etcd answers 503 {"health":"false"} when it has no leader: unhealthy. Any other HTTP
            // answer (404 from a proxy or a wrong path, 401) is not about its health: unknown.
            st.error = health.error.message;
            st.healthReason = health.error.message;
            if (
              health.error.kind === 'auth' ||
              (health.error.kind === 'http_status' && !/^HTTP 503\b/.test(health.error.message))
            )
              st.healthUnknown = health.error.message;
          }
          if (status.ok) {
            try {
              Object.assign(st, parseStatus(status.value));
            } catch {
              /* older gateways: status is optional */
            }
          }
          if (list.ok && !members) {
            try {
              members = parseMemberList(list.value);
            } catch {
              /* optional */
            }
          }
          return st;
        }),
      );
      if (endpoints.every((e) => !e.reachable)) {
        return failed(
          'etcd',
          {
            kind: 'unreachable',
            message: `no etcd endpoint answered (${endpoints.map((e) => `${e.endpoint}: ${e.error ?? '?'}`).join('; ')})`,
          },
          at,
        );
      }
      return observed('etcd', summarize(endpoints, members, at.getTime()), at);
    },
  };
}

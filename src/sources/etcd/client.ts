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
  memberNames: string[];
  healthyCount: number;
  /** floor(n/2)+1 */
  quorum: number;
  hasQuorum: boolean;
  /** Distinct leaders known by reachable members (more than one = split view). */
  leaders: string[];
}

export interface EtcdSource {
  poll(signal?: AbortSignal): Promise<Observation<EtcdState>>;
}

// ---- pure parsers ----
export function parseHealth(body: string): { healthy: boolean; reason?: string } {
  try {
    const o = JSON.parse(body) as { health?: unknown; reason?: unknown };
    const healthy = o.health === true || o.health === 'true';
    return { healthy, ...(typeof o.reason === 'string' && o.reason ? { reason: o.reason } : {}) };
  } catch {
    return { healthy: false, reason: `unexpected /health body: ${excerpt(body, 80)}` };
  }
}

export function parseStatus(body: string): Pick<EtcdMemberState, 'version' | 'memberId' | 'leaderId' | 'raftTerm' | 'dbSizeBytes' | 'errors'> {
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

export function summarize(endpoints: EtcdMemberState[], members: { id: string; name: string }[] | undefined, at: number): EtcdState {
  const memberCount = members?.length || endpoints.length;
  const quorum = Math.floor(memberCount / 2) + 1;
  const healthyCount = endpoints.filter((e) => e.healthy).length;
  const leaders = [...new Set(endpoints.filter((e) => e.reachable && e.leaderId && e.leaderId !== '0').map((e) => e.leaderId!))];
  for (const e of endpoints) if (e.leaderId && e.memberId) e.isLeader = e.leaderId === e.memberId;
  // Quorum: a healthy member (etcd's /health requires a leader and a committed read) proves the cluster has quorum.
  const hasQuorum = healthyCount > 0 && leaders.length >= 1;
  return { at, endpoints, memberCount, memberNames: (members ?? []).map((m) => m.name), healthyCount, quorum, hasQuorum, leaders };
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
          const st: EtcdMemberState = { endpoint: ep, reachable: health.ok || status.ok || (!health.ok && health.error.kind === 'http_status'), healthy: false };
          if (health.ok) {
            const h = parseHealth(health.value);
            st.healthy = h.healthy;
            if (h.reason) st.healthReason = h.reason;
          } else {
            // etcd answers 503 {"health":"false"} when it has no leader
            st.error = health.error.message;
            st.healthReason = health.error.message;
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
        return failed('etcd', { kind: 'unreachable', message: `no etcd endpoint answered (${endpoints.map((e) => `${e.endpoint}: ${e.error ?? '?'}`).join('; ')})` }, at);
      }
      return observed('etcd', summarize(endpoints, members, at.getTime()), at);
    },
  };
}

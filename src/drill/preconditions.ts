/**
 * Whether a drill may start: a drill on a sick cluster proves nothing and may turn a planned
 * exercise into an outage. Pure: judged from one status poll and the firing alerts.
 */
import type { Alert } from '../alerts/alert.js';
import type { HaproxyStatus, PatroniStatus, StatusMember } from '../status/snapshot.js';
import { formatBytes } from '../sources/patroni/parse.js';
import type { DrillKind } from './types.js';

export interface PreconditionInput {
  kind: DrillKind;
  patroni?: PatroniStatus;
  haproxy?: HaproxyStatus;
  firing: readonly Alert[];
  /** switchover --to MEMBER */
  to?: string;
  /** app-node drill: the backend and server to stop */
  app?: { backend: string; server: string };
}

export type PreconditionResult = { ok: true; leader: string; candidate?: string } | { ok: false; reasons: string[] };

const REPLICA_ROLES = new Set(['replica', 'sync_standby', 'quorum_standby']);

/** Patroni ≥ 3.0.4 says `streaming`; older ones say `running`, and then direct SQL tells (sources.postgres). */
export function isStreaming(m: StatusMember): boolean | undefined {
  if (m.state === 'streaming') return true;
  if (m.state !== 'running') return false;
  return m.sqlStreaming;
}

export function checkPreconditions(i: PreconditionInput): PreconditionResult {
  const reasons: string[] = [];
  const p = i.patroni;
  if (!p)
    return {
      ok: false,
      reasons: ["Patroni is not answering (no member's REST API replied): the cluster state is unknown"],
    };
  const leaders = p.members.filter((m) => m.isLeader);
  if (leaders.length !== 1 || !p.leader)
    reasons.push(
      leaders.length === 0
        ? 'there is no leader'
        : `${leaders.length} members claim to be leader (${leaders.map((m) => m.name).join(', ')})`,
    );
  else if (!p.leaderHealthy)
    reasons.push(`leader ${p.leader} is not healthy${p.leaderProblem ? ` (${p.leaderProblem})` : ''}`);
  if (p.paused) reasons.push('Patroni is paused (maintenance mode): it would not switch over');
  const replicas = p.members.filter((m) => !m.isLeader);
  if (replicas.length === 0) reasons.push('there is no replica');
  for (const m of replicas) {
    if (!m.restReachable) reasons.push(`${m.name}: its Patroni REST API does not answer`);
    else if (!REPLICA_ROLES.has(m.role) || isStreaming(m) === false)
      reasons.push(`${m.name} is not streaming (role ${m.role}, state ${m.state})`);
    else if (isStreaming(m) === undefined)
      reasons.push(`${m.name}: Patroni says "running", whether it streams is unknown (configure sources.postgres)`);
    else if (m.lagBytes === null) reasons.push(`${m.name}: replication lag unknown`);
    else if (m.lagBytes > p.maximumLagOnFailoverBytes)
      reasons.push(
        `${m.name} lags ${formatBytes(m.lagBytes)}, more than maximum_lag_on_failover (${formatBytes(p.maximumLagOnFailoverBytes)})`,
      );
  }
  const w = i.haproxy?.write;
  if (!i.haproxy) reasons.push('HAProxy stats are not readable: cannot check where writes go');
  else if (!w) reasons.push('the HAProxy write backend was not found in the stats');
  else if (w.up !== 1)
    reasons.push(`HAProxy write backend ${w.name} has ${w.up} servers UP (expected exactly 1, the leader)`);
  else if (w.matchesLeader !== true)
    reasons.push(
      `HAProxy write backend ${w.name} routes to ${w.upMember ?? w.upServer ?? '?'}${w.matchesLeader === false ? `, not to the leader ${p.leader}` : ', which could not be matched to a Patroni member'}`,
    );
  const critical = i.firing.filter((a) => a.state === 'firing' && a.severity === 'critical');
  if (critical.length)
    reasons.push(
      `${critical.length} critical alert(s) firing: ${critical
        .slice(0, 5)
        .map((a) => `${a.ruleId} [${a.shortId}]`)
        .join(', ')}${critical.length > 5 ? ', …' : ''}`,
    );

  let candidate: string | undefined;
  if (i.kind === 'switchover') {
    if (i.to !== undefined) {
      const m = p.members.find((x) => x.name === i.to);
      if (!m) reasons.push(`--to ${i.to}: no such member (members: ${p.members.map((x) => x.name).join(', ')})`);
      else if (m.isLeader) reasons.push(`--to ${i.to}: it is already the leader`);
      else if (!m.failoverCandidate)
        reasons.push(
          `--to ${i.to}: Patroni would not promote it (${m.notCandidateReason ?? 'not a failover candidate'})`,
        );
      else candidate = m.name;
    } else {
      // The healthiest candidate: least lag, then name (stable choice).
      const c = replicas
        .filter((m) => m.failoverCandidate)
        .sort((a, b) => (a.lagBytes ?? Infinity) - (b.lagBytes ?? Infinity) || a.name.localeCompare(b.name))[0];
      if (!c) reasons.push('no replica is a failover candidate (nofailover tags, lag or state)');
      else candidate = c.name;
    }
  }
  if (i.kind === 'app-node' && i.app) {
    const b = i.haproxy?.apps.find((x) => x.name === i.app!.backend);
    if (!b) reasons.push(`HAProxy backend ${i.app.backend} not found`);
    else {
      const s = b.servers.find((x) => x.name === i.app!.server);
      if (!s)
        reasons.push(
          `server ${i.app.server} is not in backend ${b.name} (servers: ${b.servers.map((x) => x.name).join(', ')})`,
        );
      else if (!/^UP/.test(s.status)) reasons.push(`${i.app.server} is already ${s.status} in ${b.name}`);
      const others = b.servers.filter((x) => x.name !== i.app!.server && /^UP/.test(x.status));
      if (others.length === 0)
        reasons.push(`no other server of ${b.name} is UP: stopping ${i.app.server} would be an outage`);
    }
  }
  if (reasons.length) return { ok: false, reasons };
  return { ok: true, leader: p.leader!, ...(candidate ? { candidate } : {}) };
}

import type { Got } from '../http-get.js';
import type { SourceError } from '../observation.js';
import {
  DEFAULT_MAXIMUM_LAG_ON_FAILOVER,
  isHealthyState,
  type ClusterMember,
  type ClusterRole,
  type ClusterView,
  type DynamicConfig,
  type HistoryEntry,
  type NodeRole,
  type NodeStatus,
} from './parse.js';

/** What one configured member's REST API answered in one poll. */
export interface MemberPoll {
  name: string;
  url: string;
  status: Got<NodeStatus>;
  cluster: Got<ClusterView>;
  history?: Got<HistoryEntry[]>;
  config?: Got<DynamicConfig>;
}

export interface PatroniMember {
  name: string;
  /** Listed in the patroni source config. */
  configured: boolean;
  /** Present in the merged DCS view (`/cluster`): a member disappears when its key expires (ttl). */
  inDcs: boolean;
  /** Its own REST API answered `/patroni`. */
  restReachable: boolean;
  restError?: string;
  /**
   * Its REST API answered `/patroni` but the answer could not be read (malformed body, HTTP error,
   * auth): its own state is unknown — neither "down" nor "healthy". `restReachable` is false then.
   */
  statusUnknown?: string;
  /** Role in the DCS view: leader | standby_leader | sync_standby | quorum_standby | replica | unknown. */
  role: ClusterRole;
  /** Role the node reports itself (`/patroni`, master → primary), when reachable. */
  nodeRole?: NodeRole;
  /** PostgreSQL state: own `/patroni` when reachable, else the DCS view, else "unknown". */
  state: string;
  timeline?: number;
  lagBytes: number | null;
  lagUnknown: boolean;
  receiveLagBytes?: number;
  replayLagBytes?: number;
  replayPaused?: boolean;
  replicationState?: string;
  pendingRestart: boolean;
  pendingRestartReason?: Record<string, { old_value?: string; new_value?: string }>;
  host?: string;
  port?: number;
  /** REST API URL: the DCS `api_url`, else the configured URL (topology matching by address). */
  apiUrl?: string;
  isLeader: boolean;
  /** Its own `/patroni` xlog.location (a primary's WAL position, bytes): the last polled value before a crash bounds data at risk. */
  walLocation?: number;
  /** Could Patroni promote it now: a healthy replica within maximum_lag_on_failover, on the leader's timeline, no nofailover tag. */
  failoverCandidate: boolean;
  /** Why it is not a failover candidate (replicas only). */
  notCandidateReason?: string;
  tags: Record<string, unknown>;
}

export interface PatroniClusterState {
  /** epoch ms of the poll */
  at: number;
  scope?: string;
  /** The leader named by the merged DCS view. */
  leader?: string;
  /** The leader answers its REST API, reports itself primary (or standby leader) and PostgreSQL running. */
  leaderHealthy: boolean;
  /** Why the leader is not healthy (or "no leader in the DCS"). */
  leaderProblem?: string;
  /** Why the leader's health is unknown (no DCS view, or its `/patroni` answer is unreadable): not a leader problem. */
  leaderUnknown?: string;
  /** The leader's timeline (else the highest seen). */
  timeline?: number;
  members: PatroniMember[];
  paused: boolean;
  scheduledSwitchover?: { at?: string; from?: string; to?: string };
  history: HistoryEntry[];
  config?: DynamicConfig;
  maximumLagOnFailover: number;
  /**
   * Which leader each reachable member's `/cluster` named: views can be stale or split. Empty = no
   * DCS view was read: leader, roles, lag and membership are unknown (not "no leader").
   */
  views: { from: string; leader: string | null }[];
  viewsDisagree: boolean;
  /** Members (other than the DCS leader) whose own `/patroni` says primary: a split-brain hint. */
  otherPrimaries: string[];
  reachableMembers: number;
  patroniVersion?: string;
}

const LEADER_ROLES: ClusterRole[] = ['leader', 'standby_leader'];

function leaderOf(view: ClusterView): string | null {
  return view.members.find((m) => LEADER_ROLES.includes(m.role))?.name ?? null;
}

function nodeLooksLeader(s: NodeStatus | undefined): boolean {
  return !!s && (s.role === 'primary' || s.role === 'standby_leader') && s.state === 'running';
}

/**
 * Merges every member's answers into one picture. The DCS view (`/cluster`) is taken from the
 * majority of reachable members (ties: the view whose leader confirms it is a running primary);
 * each member's own `/patroni` is authoritative for its PostgreSQL state, role and timeline.
 * Returns undefined when no member answered at all (the whole source is unreachable).
 */
export function mergeClusterState(polls: readonly MemberPoll[], at: number): PatroniClusterState | undefined {
  const statusOf = new Map<string, NodeStatus>();
  for (const p of polls) if (p.status.ok) statusOf.set(p.name, p.status.value);
  const views = polls
    .filter((p) => p.cluster.ok)
    .map((p) => ({ from: p.name, view: (p.cluster as { ok: true; value: ClusterView }).value }));
  if (views.length === 0 && statusOf.size === 0) return undefined;

  // Majority leader among views.
  const counts = new Map<string | null, number>();
  for (const v of views) counts.set(leaderOf(v.view), (counts.get(leaderOf(v.view)) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => {
    if (b[1] !== a[1]) return b[1] - a[1];
    const ca = a[0] !== null && nodeLooksLeader(statusOf.get(a[0])) ? 1 : 0;
    const cb = b[0] !== null && nodeLooksLeader(statusOf.get(b[0])) ? 1 : 0;
    if (cb !== ca) return cb - ca;
    return (b[0] === null ? 0 : 1) - (a[0] === null ? 0 : 1);
  });
  const chosenLeader = ranked[0]?.[0] ?? null;
  const chosen = views.find((v) => leaderOf(v.view) === chosenLeader)?.view;

  const dcsMembers = new Map<string, ClusterMember>((chosen?.members ?? []).map((m) => [m.name, m]));
  const names = [...new Set([...polls.map((p) => p.name), ...dcsMembers.keys()])];
  const configured = new Set(polls.map((p) => p.name));

  const history = polls
    .map((p) => (p.history?.ok ? p.history.value : []))
    .reduce<HistoryEntry[]>((best, h) => (h.length > best.length ? h : best), []);
  const config = polls.map((p) => (p.config?.ok ? p.config.value : undefined)).find((c) => c !== undefined);
  const maxLag = config?.maximumLagOnFailover ?? DEFAULT_MAXIMUM_LAG_ON_FAILOVER;

  const leaderStatus = chosenLeader ? statusOf.get(chosenLeader) : undefined;
  const leaderDcs = chosenLeader ? dcsMembers.get(chosenLeader) : undefined;
  const timeline =
    leaderStatus?.timeline ?? leaderDcs?.timeline ?? maxOf([...statusOf.values()].map((s) => s.timeline));

  const members: PatroniMember[] = names.sort().map((name) => {
    const d = dcsMembers.get(name);
    const s = statusOf.get(name);
    const poll = polls.find((p) => p.name === name);
    const isLeader = name === chosenLeader;
    const m: PatroniMember = {
      name,
      configured: configured.has(name),
      inDcs: d !== undefined,
      restReachable: s !== undefined,
      role: d?.role ?? 'unknown',
      state: s
        ? s.role === 'replica' && s.state === 'running' && s.replicationState
          ? s.replicationState
          : s.state
        : (d?.state ?? 'unknown'),
      lagBytes: d?.lagBytes ?? null,
      lagUnknown: d?.lagUnknown ?? false,
      pendingRestart: (s?.pendingRestart ?? false) || (d?.pendingRestart ?? false),
      isLeader,
      failoverCandidate: false,
      tags: { ...(d?.tags ?? {}), ...(s?.tags ?? {}) },
    };
    if (poll && !poll.status.ok) {
      m.restError = poll.status.error.message;
      if (answeredUnreadable(poll.status.error))
        m.statusUnknown = `${poll.status.error.kind}: ${poll.status.error.message}`;
    }
    if (s) m.nodeRole = s.role;
    if (s?.walLocation !== undefined) m.walLocation = s.walLocation;
    const tl = s?.timeline ?? d?.timeline;
    if (tl !== undefined) m.timeline = tl;
    if (d?.receiveLagBytes !== undefined) m.receiveLagBytes = d.receiveLagBytes;
    if (d?.replayLagBytes !== undefined) m.replayLagBytes = d.replayLagBytes;
    if (s?.replayPaused !== undefined) m.replayPaused = s.replayPaused;
    if (s?.replicationState !== undefined) m.replicationState = s.replicationState;
    const reason = s?.pendingRestartReason ?? d?.pendingRestartReason;
    if (reason) m.pendingRestartReason = reason;
    if (d?.host !== undefined) m.host = d.host;
    if (d?.port !== undefined) m.port = d.port;
    const apiUrl = d?.apiUrl ?? poll?.url;
    if (apiUrl !== undefined) m.apiUrl = apiUrl;
    if (!isLeader) {
      const why = notCandidate(m, timeline, maxLag, chosenLeader);
      if (why) m.notCandidateReason = why;
      else m.failoverCandidate = true;
    }
    return m;
  });

  let leaderProblem: string | undefined;
  let leaderUnknown: string | undefined;
  if (views.length === 0) leaderUnknown = 'no member answered /cluster: the DCS view (leader, roles, lag) is unknown';
  else if (!chosenLeader) leaderProblem = 'no leader in the DCS';
  else {
    const poll = polls.find((p) => p.name === chosenLeader);
    if (poll && !poll.status.ok && answeredUnreadable(poll.status.error))
      leaderUnknown = `leader ${chosenLeader} answered /patroni unreadably (${poll.status.error.kind}: ${poll.status.error.message})`;
    else if (poll && !poll.status.ok) leaderProblem = `REST API unreachable: ${poll.status.error.message}`;
    else if (leaderStatus && !(leaderStatus.role === 'primary' || leaderStatus.role === 'standby_leader'))
      leaderProblem = `reports role ${leaderStatus.rawRole}`;
    else if (leaderStatus && leaderStatus.state !== 'running') leaderProblem = `PostgreSQL ${leaderStatus.state}`;
    else if (!leaderStatus && leaderDcs && leaderDcs.state !== 'running')
      leaderProblem = `PostgreSQL ${leaderDcs.state}`;
  }

  const anyPaused = views.some((v) => v.view.paused) || [...statusOf.values()].some((s) => s.paused);
  const state: PatroniClusterState = {
    at,
    leaderHealthy: leaderProblem === undefined && leaderUnknown === undefined,
    members,
    paused: anyPaused,
    history,
    maximumLagOnFailover: maxLag,
    views: views.map((v) => ({ from: v.from, leader: leaderOf(v.view) })),
    viewsDisagree: counts.size > 1,
    otherPrimaries: [...statusOf.entries()]
      .filter(([n, s]) => n !== chosenLeader && s.role === 'primary' && s.state === 'running')
      .map(([n]) => n),
    reachableMembers: statusOf.size,
  };
  if (chosenLeader) state.leader = chosenLeader;
  if (leaderProblem) state.leaderProblem = leaderProblem;
  if (leaderUnknown) state.leaderUnknown = leaderUnknown;
  if (timeline !== undefined) state.timeline = timeline;
  if (config) state.config = config;
  const scope = chosen?.scope ?? [...statusOf.values()].find((s) => s.scope)?.scope;
  if (scope) state.scope = scope;
  const sw = views.find((v) => v.view.scheduledSwitchover)?.view.scheduledSwitchover;
  if (sw) state.scheduledSwitchover = sw;
  const version = [...statusOf.values()].find((s) => s.patroniVersion)?.patroniVersion;
  if (version) state.patroniVersion = version;
  return state;
}

/** The REST API answered, but not with a readable `/patroni` (unlike refused / timed out: not a sign the node is down). */
function answeredUnreadable(e: SourceError): boolean {
  return e.kind === 'malformed' || e.kind === 'auth' || e.kind === 'http_status';
}

function notCandidate(
  m: PatroniMember,
  leaderTimeline: number | undefined,
  maxLag: number,
  leader: string | null,
): string | undefined {
  if (!m.inDcs) return 'not in the DCS';
  if (m.tags['nofailover'] === true) return 'nofailover tag';
  if (!isHealthyState(m.state)) return `state ${m.state}`;
  if (m.lagUnknown || (m.lagBytes === null && leader !== null)) return 'lag unknown';
  if (m.lagBytes !== null && m.lagBytes > maxLag) return `lag ${m.lagBytes} B > maximum_lag_on_failover ${maxLag} B`;
  if (leaderTimeline !== undefined && m.timeline !== undefined && m.timeline < leaderTimeline)
    return `timeline ${m.timeline} behind ${leaderTimeline}`;
  return undefined;
}

function maxOf(xs: (number | undefined)[]): number | undefined {
  const v = xs.filter((x): x is number => x !== undefined);
  return v.length ? Math.max(...v) : undefined;
}

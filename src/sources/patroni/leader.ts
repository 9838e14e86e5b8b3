import type { PatroniClusterState } from './merge.js';
import { isHealthyState } from './parse.js';

/** One leader change, kept until the old leader is back as a healthy replica (or gone for good). */
export interface LeaderChange {
  from: string;
  to: string;
  timeline?: number;
  /** epoch ms when the new leader was first seen healthy */
  at: number;
  /** From the first sign of trouble (or the last healthy poll) to the new leader's promotion / first sighting. */
  writesImpossibleMs: number;
  kind: 'failover' | 'switchover';
  /** Why the old leader stopped leading, as observed. */
  downReason?: string;
  /** When the trouble started (first unhealthy poll, else the last healthy one): "after 4 m 10 s" counts from here. */
  startedAt?: number;
  /** The old leader's WAL position at its last healthy poll, and when. */
  oldWal?: number;
  oldWalAt?: number;
  /** Where the new leader's timeline forked (Patroni /history, last entry): its promotion point. */
  promotionLsn?: number;
}

/**
 * What a leader-watching rule remembers between evaluations (returned as the rule's cursor, so it
 * survives restarts atomically with the alert state). Plain JSON.
 */
export interface LeaderCursor {
  v: 1;
  /** When this cursor last saw the cluster (any state). */
  seenAt?: number;
  leader?: string;
  timeline?: number;
  lastHealthyAt?: number;
  /** The leader has looked unhealthy (or there was no leader) since. */
  downSince?: number;
  downReason?: string;
  /** During this episode the old leader was unreachable / crashed / stopped / gone: a failover, not a switchover. */
  hardDown?: boolean;
  change?: LeaderChange;
  /** The healthy leader's last polled WAL position (bytes) and when: data at risk if it crashes. */
  leaderWal?: number;
  leaderWalAt?: number;
}

export interface LeaderStep {
  cursor: LeaderCursor;
  /** The leader (or the last known one) is down now: who, why, since when. */
  down?: { member: string; reason: string; since: number; hard: boolean };
  /** The open leader change (until the old leader rejoins as replica). */
  change?: LeaderChange;
  /** The change was first seen in this step. */
  changedNow: boolean;
  /** A change closed in this step: the old leader rejoined as a replica, or left the cluster for good. */
  closed?: { change: LeaderChange; how: 'rejoined' | 'gone' | 'leads_again' };
  /** The leader was down and is healthy again without a change of leader (Patroni restarted it in place). */
  backInPlace?: { member: string; downMs: number };
}

/** Longer than any plausible gap between two evaluations of a running service. */
export const CURSOR_STALE_AFTER_MS = 5 * 60_000;

/** States that say PostgreSQL is gone, not just transitioning (a switchover passes through stopping/starting). */
function isHard(state: PatroniClusterState, leader: string | undefined): boolean {
  if (!leader) return false;
  const m = state.members.find((x) => x.name === leader);
  if (!m) return true;
  if (m.configured && !m.restReachable) return true;
  // "stopped" with a reachable REST API is what a switchover passes through: not hard.
  return m.state === 'crashed' || m.state.endsWith(' failed');
}

/** The old leader is back: reachable, a replica in the DCS, PostgreSQL healthy, on the leader's timeline. */
export function hasRejoined(state: PatroniClusterState, name: string): boolean {
  const m = state.members.find((x) => x.name === name);
  if (!m) return false;
  return (
    m.inDcs &&
    m.restReachable &&
    m.nodeRole === 'replica' &&
    !m.isLeader &&
    isHealthyState(m.state) &&
    (state.timeline === undefined || m.timeline === undefined || m.timeline >= state.timeline)
  );
}

function gone(state: PatroniClusterState, name: string): boolean {
  const m = state.members.find((x) => x.name === name);
  return !m || (!m.configured && !m.inDcs);
}

/**
 * Pure: advances the leader cursor with one merged cluster observation. A change is reported once
 * the new leader is seen healthy; it stays open until the old leader rejoins as a replica.
 */
export function trackLeader(prev: LeaderCursor | undefined, state: PatroniClusterState): LeaderStep {
  const at = state.at;
  // A cursor from before a long pause (the service was stopped) cannot tell what happened meanwhile:
  // comparing against it would report a stale leader change with the whole pause as "writes
  // impossible". Start from what is seen now instead.
  const fresh = prev && prev.v === 1 && (prev.seenAt === undefined || at - prev.seenAt <= CURSOR_STALE_AFTER_MS);
  const c: LeaderCursor = fresh ? { ...prev } : { v: 1 };
  c.seenAt = at;
  let changedNow = false;
  let backInPlace: LeaderStep['backInPlace'];
  let closed: LeaderStep['closed'];

  if (state.leader && state.leaderHealthy) {
    if (c.leader && c.leader !== state.leader) {
      const start = c.downSince ?? c.lastHealthyAt ?? at;
      let end = at;
      const last = state.history[state.history.length - 1];
      if (
        last?.at &&
        (last.newLeader === undefined || last.newLeader === state.leader) &&
        (state.timeline === undefined || last.timeline + 1 === state.timeline)
      ) {
        const promotedAt = Date.parse(last.at);
        if (Number.isFinite(promotedAt) && promotedAt >= start && promotedAt <= at) end = promotedAt;
      }
      const oldMember = state.members.find((m) => m.name === c.leader);
      const switchoverReason = last !== undefined && /switchover/i.test(last.reason);
      const hard = c.hardDown === true || !oldMember || !oldMember.restReachable;
      const change: LeaderChange = {
        from: c.leader,
        to: state.leader,
        at,
        writesImpossibleMs: Math.max(0, end - start),
        kind: switchoverReason || !hard ? 'switchover' : 'failover',
      };
      if (state.timeline !== undefined) change.timeline = state.timeline;
      if (c.downReason) change.downReason = c.downReason;
      change.startedAt = start;
      if (c.leaderWal !== undefined) {
        change.oldWal = c.leaderWal;
        if (c.leaderWalAt !== undefined) change.oldWalAt = c.leaderWalAt;
      }
      if (last && (state.timeline === undefined || last.timeline + 1 === state.timeline))
        change.promotionLsn = last.lsn;
      c.change = change;
      changedNow = true;
    }
    if (c.leader === state.leader && c.downSince !== undefined)
      backInPlace = { member: state.leader, downMs: at - c.downSince };
    c.leader = state.leader;
    if (state.timeline !== undefined) c.timeline = state.timeline;
    c.lastHealthyAt = at;
    const wal = state.members.find((m) => m.name === state.leader)?.walLocation;
    if (wal !== undefined) {
      c.leaderWal = wal;
      c.leaderWalAt = at;
    } else {
      delete c.leaderWal;
      delete c.leaderWalAt;
    }
    delete c.downSince;
    delete c.downReason;
    delete c.hardDown;
  } else {
    // Unhealthy leader, a new leader not yet healthy, or none: the last known healthy leader is "down".
    const subject = c.leader ?? state.leader;
    if (!c.leader && state.leader) c.leader = state.leader;
    c.downSince ??= at;
    c.downReason =
      state.leader && state.leader !== subject
        ? `leadership moving to ${state.leader}, not serving yet (${state.leaderProblem ?? 'unhealthy'})`
        : (state.leaderProblem ?? 'unhealthy');
    if (!state.leader)
      c.downReason = subject
        ? `no leader in the DCS (last leader ${subject}${subjectDetail(state, subject)})`
        : 'no leader in the DCS';
    if (isHard(state, subject)) c.hardDown = true;
  }

  // Patroni writes the new timeline into /history a loop after the promotion: pick the promotion point up when it appears.
  if (c.change && c.change.promotionLsn === undefined && c.change.timeline !== undefined) {
    const e = state.history.find((h) => h.timeline + 1 === c.change!.timeline);
    if (e) c.change = { ...c.change, promotionLsn: e.lsn };
  }
  // Reported at least once (the step it was seen), then closed when the old leader is back (or gone for good).
  if (
    c.change &&
    !changedNow &&
    (hasRejoined(state, c.change.from) || gone(state, c.change.from)) &&
    c.change.from !== state.leader
  ) {
    closed = { change: c.change, how: hasRejoined(state, c.change.from) ? 'rejoined' : 'gone' };
    delete c.change;
  }
  // A change back to the old leader before it was reported as rejoined closes the old change too.
  if (c.change && c.change.from === state.leader && state.leaderHealthy && !changedNow) {
    closed = { change: c.change, how: 'leads_again' };
    delete c.change;
  }

  const out: LeaderStep = {
    cursor: c,
    changedNow,
    ...(closed ? { closed } : {}),
    ...(backInPlace ? { backInPlace } : {}),
  };
  if (c.downSince !== undefined && c.leader)
    out.down = { member: c.leader, reason: c.downReason ?? 'unhealthy', since: c.downSince, hard: c.hardDown === true };
  else if (c.downSince !== undefined)
    out.down = { member: 'none', reason: c.downReason ?? 'no leader', since: c.downSince, hard: false };
  if (c.change) out.change = c.change;
  return out;
}

function subjectDetail(state: PatroniClusterState, name: string): string {
  const m = state.members.find((x) => x.name === name);
  if (!m) return '';
  if (!m.restReachable) return `: REST API unreachable${m.restError ? ` (${m.restError})` : ''}`;
  return `: ${m.state}`;
}

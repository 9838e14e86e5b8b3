import { z } from 'zod';
import { zDuration } from '../../config/zod-types.js';
import type { PatroniClusterState } from '../../sources/patroni/merge.js';
import { trackLeader, type LeaderChange, type LeaderCursor } from '../../sources/patroni/leader.js';
import { isHealthyState } from '../../sources/patroni/parse.js';
import { defineRuleType, recoveredByProblem, v, type Finding, type Recovery, type Unknown } from '../rule-type.js';
import { formatBytes, observe, requireSource } from './cluster-util.js';

const secs = (ms: number) => Math.round(ms / 1000);
const hms = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/** "25 s", "4 m 10 s", "2 h 5 m": how long, as said aloud. */
export function spoken(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} m` : ''}`;
}

/** A WAL position as PostgreSQL prints it: 0/3A0001F8. */
export function lsnText(bytes: number): string {
  const hi = Math.floor(bytes / 2 ** 32);
  return `${hi.toString(16).toUpperCase()}/${(bytes - hi * 2 ** 32).toString(16).toUpperCase()}`;
}

/**
 * Data at risk in a failover, from what was polled before the crash: the old primary's last WAL
 * position against the point where the new leader's timeline forked (Patroni /history). Writes after
 * that last poll are not counted, so a positive figure is a lower bound and "0 bytes" means "as far
 * as the last poll shows".
 */
export function dataAtRisk(ch: Pick<LeaderChange, 'from' | 'to' | 'oldWal' | 'oldWalAt' | 'promotionLsn'>): {
  bytes: number | null;
  text: string;
} {
  if (ch.oldWal === undefined || ch.promotionLsn === undefined) {
    return {
      bytes: null,
      text: `data at risk unknown (${ch.oldWal === undefined ? `no WAL position of ${ch.from} was polled before it failed` : 'the new timeline is not in Patroni /history yet'})`,
    };
  }
  const at = ch.oldWalAt !== undefined ? ` at ${hms(ch.oldWalAt)}` : '';
  const d = ch.oldWal - ch.promotionLsn;
  if (d <= 0)
    return {
      bytes: 0,
      text: `0 bytes at risk: ${ch.to} had replayed everything ${ch.from} had written by its last poll${at} (${lsnText(ch.oldWal)})`,
    };
  return {
    bytes: d,
    text: `≥ ${formatBytes(d)} of WAL not replicated (estimate: ${ch.from} was at ${lsnText(ch.oldWal)}${at}, ${ch.to} promoted at ${lsnText(ch.promotionLsn)}; writes after that poll not counted)`,
  };
}

/** The failover line: who took over, on which timeline, how long writes were impossible against the target, data at risk. */
export function failoverText(ch: LeaderChange, targetMs: number): string {
  const w = secs(ch.writesImpossibleMs);
  const t = secs(targetMs);
  return `failover completed: ${ch.from} → ${ch.to}, timeline ${ch.timeline ?? '?'}, writes impossible for ${w} s (${w < t ? `target < ${t} s` : `over the < ${t} s target`}); ${dataAtRisk(ch).text}`;
}

/** "2 of 3 members, 1 failover candidate left": what is left to fail over to. */
export function degradedText(c: PatroniClusterState): {
  text: string;
  healthy: number;
  total: number;
  candidates: number;
} {
  const total = c.members.filter((m) => m.configured || m.inDcs).length;
  const healthy = c.members.filter((m) => m.inDcs && m.restReachable && isHealthyState(m.state)).length;
  const candidates = c.members.filter((m) => m.failoverCandidate).length;
  return {
    text: `${healthy} of ${total} members, ${candidates} failover candidate${candidates === 1 ? '' : 's'} left`,
    healthy,
    total,
    candidates,
  };
}

function memberState(c: PatroniClusterState, name: string): string {
  const m = c.members.find((x) => x.name === name);
  if (!m) return 'gone from the cluster';
  if (!m.restReachable) return `REST API unreachable${m.restError ? ` (${m.restError})` : ''}`;
  return `PostgreSQL ${m.state}${m.nodeRole ? `, ${m.nodeRole}` : ''}`;
}

/**
 * The leader, as one incident per primary failure, told in phases: down (the first page: what died,
 * that writes are impossible, what Patroni will do) → election (no leader key) → failover_completed
 * (old → new, timeline, write outage against the target, data at risk; a reply) → degraded (members
 * and candidates left while the old primary stays down) → resolved when the old primary is back as
 * a replica ("rejoined as a replica on timeline 12, lag 0 B, after 4 m 10 s"). A planned switchover
 * (old leader reachable throughout) is one announcement with its write pause, from rules with
 * `watch: switchover`. The leader history lives in the rule's cursor, so a restart does not forget it.
 */
export const patroniLeaderRule = defineRuleType({
  type: 'patroni_leader',
  summary:
    'Patroni leader as one incident: primary down → election → failover completed (old → new, timeline, write outage, data at risk) → degraded → rejoined; or a planned switchover (one announcement).',
  source: 'patroni',
  shape: {
    watch: z.enum(['failover', 'switchover']).prefault('failover').meta({
      description:
        'failover: the primary-failure incident (page); switchover: planned leader changes only (one info announcement).',
    }),
    transition_grace: zDuration().prefault('20s').meta({
      description:
        'A leader that is still reachable (demoting, restarting) or a leaderless DCS is reported only after this long; an unreachable or crashed one at once. Also how long "failover completed" stands before the incident shows the cluster degraded.',
    }),
    write_outage_target: zDuration().prefault('30s').meta({
      description:
        "The write outage a failover should stay under (the architecture's RTO): the failover message compares with it.",
    }),
  },
  placeholders: {
    member: 'the (old) leader this incident is about',
    event: 'primary_down | switchover',
    phase: 'down | election | failover_completed | degraded | switchover',
    summary: 'one-line description of where the incident stands',
    reason: 'why the primary is considered down',
    from: 'old leader',
    to: 'new leader (empty while leaderless)',
    timeline: 'the new timeline',
    writes_impossible_s: 'seconds from the first sign of trouble (or last healthy poll) to the promotion',
    down_s: 'seconds the primary has been down',
    data_at_risk_bytes: 'WAL written by the old primary (last poll) past the promotion point, or "unknown"',
    data_at_risk: 'the data-at-risk sentence',
    members_healthy: 'healthy members now',
    candidates: 'failover candidates left',
    recovery: 'resolve only: what recovered (rejoined as a replica, timeline, lag, after how long)',
  },
  defaultMessage: '{{summary}}',
  recovered: (vars) => v(vars, 'recovery') || `${v(vars, 'member')} leads or replicates normally again`,
  check: (_spec, config) => requireSource(config, 'patroni'),
  async evaluate(rule, ctx) {
    const obs = await observe(ctx, 'patroni');
    if (!obs.ok) return obs.evaluation;
    // Without a readable DCS view or leader answer, "down" and "changed" cannot be told apart from "not seen": the cursor stays put too.
    if (obs.value.leaderUnknown) return { ok: false, source: 'patroni', error: obs.value.leaderUnknown };
    const c = obs.value;
    const st = trackLeader(ctx.cursor as LeaderCursor | undefined, c);
    const findings: Finding[] = [];
    const recoveries: Recovery[] = [];
    const now = c.at;
    const grace = rule.spec.transition_grace;
    const base = {
      reason: '',
      from: '',
      to: '',
      timeline: c.timeline ?? '',
      writes_impossible_s: '',
      down_s: '',
      data_at_risk_bytes: '',
      data_at_risk: '',
      members_healthy: '',
      candidates: '',
      recovery: '',
    };
    const deg = degradedText(c);
    const counts = { members_healthy: deg.healthy, candidates: deg.candidates };
    if (rule.spec.watch === 'failover') {
      const ch = st.change?.kind === 'failover' ? st.change : undefined;
      if (ch) {
        const risk = dataAtRisk(ch);
        const completed = st.changedNow || now - ch.at < grace;
        const summary = completed
          ? failoverText(ch, rule.spec.write_outage_target)
          : `cluster degraded: ${deg.text}; ${ch.from} still down (${memberState(c, ch.from)}) since ${hms(ch.startedAt ?? ch.at)}; ${ch.to} leads on timeline ${ch.timeline ?? '?'} since ${hms(ch.at)}`;
        findings.push({
          labels: { member: ch.from, event: 'primary_down' },
          phase: completed ? 'failover_completed' : 'degraded',
          attention: completed,
          // The promotion point reaches /history a Patroni loop later: the first message then shows the data at risk.
          live: completed,
          values: {
            ...base,
            ...counts,
            member: ch.from,
            event: 'primary_down',
            phase: completed ? 'failover_completed' : 'degraded',
            reason: ch.downReason ?? '',
            from: ch.from,
            to: ch.to,
            timeline: ch.timeline ?? '',
            writes_impossible_s: secs(ch.writesImpossibleMs),
            data_at_risk_bytes: risk.bytes ?? 'unknown',
            data_at_risk: risk.text,
            summary,
          },
        });
      }
      if (st.down && st.down.member !== ch?.from && (st.down.hard || now - st.down.since >= grace)) {
        const m = st.down.member;
        const election = !c.leader || c.leader !== m;
        const downS = secs(now - st.down.since);
        const ttl = c.config?.ttl ?? 30;
        const summary = election
          ? `no leader: Patroni is electing a new one among ${deg.candidates} failover candidate${deg.candidates === 1 ? '' : 's'} — writes impossible since ${hms(st.down.since)} (${downS} s); ${m}: ${st.down.reason}`
          : `primary ${m} is down: ${st.down.reason} — writes are impossible; Patroni promotes a replica once the leader key expires (ttl ${ttl} s, about ${hms(st.down.since + ttl * 1000)})`;
        findings.push({
          labels: { member: m, event: 'primary_down' },
          phase: election ? 'election' : 'down',
          attention: false,
          values: {
            ...base,
            ...counts,
            member: m,
            event: 'primary_down',
            phase: election ? 'election' : 'down',
            reason: st.down.reason,
            from: m,
            to: c.leader && c.leader !== m ? c.leader : '',
            down_s: downS,
            summary,
          },
        });
      }
      if (st.closed && st.closed.change.kind === 'failover') {
        const ch = st.closed.change;
        const after = spoken(now - (ch.startedAt ?? ch.at));
        const m = c.members.find((x) => x.name === ch.from);
        const recovery =
          st.closed.how === 'rejoined'
            ? `${ch.from} rejoined as a replica on timeline ${m?.timeline ?? c.timeline ?? '?'}${m?.lagBytes === null || m?.lagBytes === undefined ? '' : `, lag ${formatBytes(m.lagBytes).replace(/^0 bytes$/, '0 B')}`}, after ${after}; ${degradedText(c).text}`
            : st.closed.how === 'gone'
              ? `${ch.from} left the cluster (gone from the DCS and the config); ${c.leader ?? ch.to} leads on timeline ${c.timeline ?? '?'}, after ${after}`
              : `${ch.from} leads again on timeline ${c.timeline ?? '?'}, after ${after}`;
        recoveries.push({ labels: { member: ch.from, event: 'primary_down' }, values: { recovery } });
      }
      if (st.backInPlace) {
        recoveries.push({
          labels: { member: st.backInPlace.member, event: 'primary_down' },
          values: {
            recovery: `${st.backInPlace.member} serves writes again as the leader (restarted in place, no failover), after ${spoken(st.backInPlace.downMs)}`,
          },
        });
      }
    } else if (st.change?.kind === 'switchover') {
      const ch = st.change;
      findings.push({
        labels: { member: ch.from, event: 'switchover' },
        phase: 'switchover',
        announce: true,
        values: {
          ...base,
          ...counts,
          member: ch.from,
          event: 'switchover',
          phase: 'switchover',
          from: ch.from,
          to: ch.to,
          timeline: ch.timeline ?? '',
          writes_impossible_s: secs(ch.writesImpossibleMs),
          summary: `planned switchover: ${ch.from} → ${ch.to}, timeline ${ch.timeline ?? '?'}, writes paused ${secs(ch.writesImpossibleMs)} s`,
        },
      });
    }
    return { ok: true, findings, cursor: st.cursor, ...(recoveries.length ? { recoveries } : {}) };
  },
});

const MEMBER_CHECKS = ['down', 'timeline_behind', 'pending_restart'] as const;

/** One member: unreachable / missing from the DCS / PostgreSQL not running, timeline behind, pending restart. */
export const patroniMemberRule = defineRuleType({
  type: 'patroni_member',
  summary:
    'Patroni members: REST unreachable, missing from the DCS, PostgreSQL not running, timeline behind the leader, pending restart.',
  source: 'patroni',
  shape: {
    checks: z
      .array(z.enum(MEMBER_CHECKS))
      .min(1)
      .prefault(['down', 'timeline_behind'])
      .meta({ description: 'down (unreachable | missing | not running) | timeline_behind | pending_restart' }),
  },
  placeholders: {
    member: 'the member name',
    problem: 'down | timeline_behind | pending_restart',
    detail: 'what exactly is wrong',
    state: 'PostgreSQL state as reported',
    role: 'role in the DCS view',
    timeline: "the member's timeline",
    leader_timeline: "the leader's timeline",
    leader: 'the current leader',
  },
  defaultMessage: 'member {{member}}: {{detail}}',
  recovered: recoveredByProblem(
    {
      down: 'member {{member}} is back: REST API answers, PostgreSQL running',
      timeline_behind: "{{member}} is on the leader's timeline again",
      pending_restart: '{{member}} no longer needs a restart',
    },
    'member {{member}} is healthy again',
  ),
  check: (_spec, config) => requireSource(config, 'patroni'),
  async evaluate(rule, ctx) {
    const obs = await observe(ctx, 'patroni');
    if (!obs.ok) return obs.evaluation;
    const c = obs.value;
    const checks = new Set(rule.spec.checks);
    const findings: Finding[] = [];
    const unknown: Unknown[] = [];
    const dcsKnown = c.views.length > 0;
    // Timelines are compared with the leader's, which only the DCS view names.
    if (!dcsKnown) unknown.push({ labels: { problem: 'timeline_behind' }, reason: c.leaderUnknown ?? 'no DCS view' });
    for (const m of c.members) {
      if (m.statusUnknown) {
        unknown.push({ labels: { member: m.name }, reason: `${m.name} /patroni: ${m.statusUnknown}` });
        continue;
      }
      if (!m.restReachable) {
        // What only its own /patroni tells (timeline; pending restart when the DCS does not say) is unknown while it is unreachable.
        unknown.push({
          labels: { member: m.name, problem: 'timeline_behind' },
          reason: `${m.name} REST API unreachable`,
        });
        if (!m.inDcs)
          unknown.push({
            labels: { member: m.name, problem: 'pending_restart' },
            reason: `${m.name} REST API unreachable and not in the DCS view`,
          });
      }
      const values = {
        member: m.name,
        state: m.state,
        role: m.role,
        timeline: m.timeline ?? '',
        leader_timeline: c.timeline ?? '',
        leader: c.leader ?? 'none',
      };
      if (checks.has('down')) {
        let detail: string | undefined;
        if (m.configured && !m.restReachable)
          detail = `REST API unreachable (${m.restError ?? 'no answer'})${m.inDcs ? '' : dcsKnown ? ', and gone from the DCS' : ''}`;
        else if (dcsKnown && m.configured && !m.inDcs)
          detail = `missing from the DCS (its member key expired: Patroni is not running there or cannot reach etcd), PostgreSQL ${m.state}`;
        else if (!m.isLeader && !isHealthyState(m.state)) detail = `PostgreSQL ${m.state}`;
        else if (m.isLeader && m.state !== 'running') detail = `PostgreSQL ${m.state} on the leader`;
        if (detail)
          findings.push({
            labels: { member: m.name, problem: 'down' },
            values: { ...values, problem: 'down', detail },
          });
      }
      if (
        checks.has('timeline_behind') &&
        !m.isLeader &&
        m.restReachable &&
        m.timeline !== undefined &&
        c.timeline !== undefined &&
        m.timeline < c.timeline
      ) {
        findings.push({
          labels: { member: m.name, problem: 'timeline_behind' },
          values: {
            ...values,
            problem: 'timeline_behind',
            detail: `timeline ${m.timeline} is behind the leader's ${c.timeline} (needs pg_rewind or reinit)`,
          },
        });
      }
      if (checks.has('pending_restart') && m.pendingRestart) {
        const why = m.pendingRestartReason
          ? Object.entries(m.pendingRestartReason)
              .map(([k, v]) => `${k} ${v.old_value ?? '?'} → ${v.new_value ?? '?'}`)
              .join(', ')
          : 'a parameter change needs a restart';
        findings.push({
          labels: { member: m.name, problem: 'pending_restart' },
          values: { ...values, problem: 'pending_restart', detail: `pending restart: ${why}` },
        });
      }
    }
    return { ok: true, findings, ...(unknown.length ? { unknown } : {}) };
  },
});

/** Replication lag as Patroni sees it, against maximum_lag_on_failover from /config (or a fixed threshold). */
export const patroniLagRule = defineRuleType({
  type: 'patroni_lag',
  summary:
    "Replica lag (Patroni's view) over maximum_lag_on_failover from /config: the replica is no longer a failover candidate.",
  source: 'patroni',
  shape: {
    max_lag_bytes: z.number().int().min(0).optional().meta({
      description:
        'Threshold in bytes (default: maximum_lag_on_failover from the DCS /config, Patroni default 1048576).',
    }),
    unknown_lag: z
      .boolean()
      .prefault(true)
      .meta({ description: 'Report a running replica whose lag Patroni reports as "unknown".' }),
  },
  placeholders: {
    member: 'the replica',
    lag_bytes: 'lag in bytes (or "unknown")',
    lag: 'lag, human readable',
    max_lag_bytes: 'the threshold in bytes',
    max_lag: 'the threshold, human readable',
    leader: 'the current leader',
    candidate: 'yes | no: can Patroni still promote it',
  },
  defaultMessage:
    'replica {{member}} is {{lag}} behind {{leader}} (max {{max_lag}}): it is no longer a failover candidate',
  recovered: (vars) =>
    `replica ${v(vars, 'member')} is back within ${v(vars, 'max_lag')} of the leader: a failover candidate again`,
  check: (_spec, config) => requireSource(config, 'patroni'),
  async evaluate(rule, ctx) {
    const obs = await observe(ctx, 'patroni');
    if (!obs.ok) return obs.evaluation;
    const c: PatroniClusterState = obs.value;
    if (c.views.length === 0)
      return { ok: false, source: 'patroni', error: c.leaderUnknown ?? 'no DCS view: lag unknown' };
    // No leader: lag is meaningless until one is elected (the leader rule reports it); lag alerts stay as they are.
    if (!c.leader) return { ok: true, findings: [], unknown: [{ labels: {}, reason: 'no leader: lag undefined' }] };
    const max = rule.spec.max_lag_bytes ?? c.maximumLagOnFailover;
    const findings: Finding[] = [];
    for (const m of c.members) {
      if (m.isLeader || !m.inDcs || !isHealthyState(m.state)) continue;
      const over = m.lagBytes !== null && m.lagBytes > max;
      const unknown = rule.spec.unknown_lag && (m.lagUnknown || m.lagBytes === null);
      if (!over && !unknown) continue;
      findings.push({
        labels: { member: m.name },
        values: {
          member: m.name,
          lag_bytes: m.lagBytes ?? 'unknown',
          lag: m.lagBytes === null ? 'an unknown amount' : formatBytes(m.lagBytes),
          max_lag_bytes: max,
          max_lag: formatBytes(max),
          leader: c.leader,
          candidate: m.failoverCandidate ? 'yes' : 'no',
        },
      });
    }
    return { ok: true, findings };
  },
});

const CLUSTER_CHECKS = ['paused', 'scheduled_switchover', 'views_disagree', 'other_primary'] as const;

/** Cluster-wide facts: maintenance mode (paused), a scheduled switchover, members disagreeing about the leader. */
export const patroniClusterRule = defineRuleType({
  type: 'patroni_cluster',
  summary:
    'Patroni cluster state: paused (no automatic failover), scheduled switchover, members disagreeing on the leader, a non-leader running as primary.',
  source: 'patroni',
  shape: {
    checks: z.array(z.enum(CLUSTER_CHECKS)).min(1).prefault(['paused', 'scheduled_switchover']),
  },
  placeholders: { problem: CLUSTER_CHECKS.join(' | '), detail: 'what was seen', leader: 'the current leader' },
  defaultMessage: '{{detail}}',
  recovered: recoveredByProblem(
    {
      paused: 'cluster resumed: Patroni fails over automatically again',
      scheduled_switchover: 'no switchover scheduled any more',
      views_disagree: 'members agree on the leader again',
      other_primary: '{{member}} no longer reports itself primary',
    },
    'cluster state normal again',
  ),
  check: (_spec, config) => requireSource(config, 'patroni'),
  async evaluate(rule, ctx) {
    const obs = await observe(ctx, 'patroni');
    if (!obs.ok) return obs.evaluation;
    const c = obs.value;
    const checks = new Set(rule.spec.checks);
    const findings: Finding[] = [];
    const f = (problem: string, detail: string, extra: Record<string, string> = {}) =>
      findings.push({
        labels: { problem, ...extra },
        values: { problem, detail, leader: c.leader ?? 'none', ...extra },
      });
    const unknown: Unknown[] = [];
    // The switchover schedule, the views and the leader come from /cluster only.
    if (c.views.length === 0)
      for (const problem of ['scheduled_switchover', 'views_disagree', 'other_primary'])
        unknown.push({ labels: { problem }, reason: c.leaderUnknown ?? 'no DCS view' });
    for (const m of c.members)
      if (m.statusUnknown)
        unknown.push({
          labels: { problem: 'other_primary', member: m.name },
          reason: `${m.name} /patroni: ${m.statusUnknown}`,
        });
    if (checks.has('paused') && c.paused)
      f(
        'paused',
        `cluster ${c.scope ?? ''} is paused (maintenance mode): Patroni will not fail over automatically`.replace(
          '  ',
          ' ',
        ),
      );
    if (checks.has('scheduled_switchover') && c.scheduledSwitchover) {
      const s = c.scheduledSwitchover;
      f(
        'scheduled_switchover',
        `switchover scheduled${s.at ? ` at ${s.at}` : ''}: ${s.from ?? c.leader ?? '?'} → ${s.to ?? 'best candidate'}`,
      );
    }
    if (checks.has('views_disagree') && c.viewsDisagree)
      f(
        'views_disagree',
        `members disagree on the leader: ${c.views.map((v) => `${v.from} sees ${v.leader ?? 'none'}`).join(', ')}`,
      );
    if (checks.has('other_primary') && c.views.length > 0)
      for (const n of c.otherPrimaries)
        f('other_primary', `${n} reports itself primary but the DCS leader is ${c.leader ?? 'none'}`, { member: n });
    return { ok: true, findings, ...(unknown.length ? { unknown } : {}) };
  },
});

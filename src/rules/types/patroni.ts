import { z } from 'zod';
import { zDuration } from '../../config/zod-types.js';
import type { PatroniClusterState } from '../../sources/patroni/merge.js';
import { trackLeader, type LeaderCursor } from '../../sources/patroni/leader.js';
import { isHealthyState } from '../../sources/patroni/parse.js';
import { defineRuleType, type Finding, type Unknown } from '../rule-type.js';
import { formatBytes, observe, requireSource } from './cluster-util.js';

const secs = (ms: number) => Math.round(ms / 1000);

/**
 * The leader, through one incident: a crashed primary is reported as soon as it is observable
 * (REST refused, PostgreSQL crashed, no leader), then the completed failover ("pg2 → pg1,
 * timeline 5, writes impossible for 24 s") as a second alert of the same rule, and both resolve
 * together — one resolved message — when the old primary is back as a replica. A planned
 * switchover (old leader reachable throughout) is reported only by rules with `watch: switchover`.
 * The leader history lives in the rule's cursor, so a restart of the service does not forget it.
 */
export const patroniLeaderRule = defineRuleType({
  type: 'patroni_leader',
  summary: 'Patroni leader: primary down, failover completed (old → new, timeline, write outage), or a planned switchover.',
  source: 'patroni',
  shape: {
    watch: z.enum(['failover', 'switchover']).prefault('failover').meta({ description: 'failover: primary down + failover completed (page); switchover: planned leader changes only (info).' }),
    transition_grace: zDuration().prefault('20s').meta({ description: 'A leader that is still reachable (demoting, restarting) or a leaderless DCS is reported only after this long; an unreachable or crashed one at once.' }),
  },
  placeholders: {
    member: 'the (old) leader this incident is about',
    event: 'primary_down | failover | switchover',
    summary: 'one-line description of the event',
    reason: 'why the primary is considered down',
    from: 'old leader',
    to: 'new leader (empty while leaderless)',
    timeline: 'the new timeline',
    writes_impossible_s: 'seconds from the first sign of trouble (or last healthy poll) to the promotion',
    down_s: 'seconds the primary has been down',
  },
  defaultMessage: '{{summary}}',
  check: (_spec, config) => requireSource(config, 'patroni'),
  async evaluate(rule, ctx) {
    const obs = await observe(ctx, 'patroni');
    if (!obs.ok) return obs.evaluation;
    // Without a readable DCS view or leader answer, "down" and "changed" cannot be told apart from "not seen": the cursor stays put too.
    if (obs.value.leaderUnknown) return { ok: false, source: 'patroni', error: obs.value.leaderUnknown };
    const st = trackLeader(ctx.cursor as LeaderCursor | undefined, obs.value);
    const findings: Finding[] = [];
    const now = obs.value.at;
    const base = { reason: '', from: '', to: '', timeline: obs.value.timeline ?? '', writes_impossible_s: '', down_s: '' };
    if (rule.spec.watch === 'failover') {
      const ch = st.change?.kind === 'failover' ? st.change : undefined;
      if (st.down && (st.down.hard || now - st.down.since >= rule.spec.transition_grace)) {
        const downS = secs(now - st.down.since);
        findings.push({
          labels: { member: st.down.member, event: 'primary_down' },
          values: { ...base, member: st.down.member, event: 'primary_down', reason: st.down.reason, from: st.down.member, down_s: downS, summary: `primary ${st.down.member} is down: ${st.down.reason} — writes are impossible until Patroni elects a new leader (after ttl ${obs.value.config?.ttl ?? 30}s)` },
        });
      } else if (ch) {
        // Keep the incident open (quietly) until the old primary rejoins: both alerts resolve in one message.
        findings.push({
          labels: { member: ch.from, event: 'primary_down' },
          values: { ...base, member: ch.from, event: 'primary_down', reason: ch.downReason ?? 'replaced by a new leader', from: ch.from, to: ch.to, summary: `old primary ${ch.from} has not rejoined as a replica yet (${ch.downReason ?? 'down'})` },
        });
      }
      if (ch) {
        findings.push({
          labels: { member: ch.from, event: 'failover' },
          values: { ...base, member: ch.from, event: 'failover', from: ch.from, to: ch.to, timeline: ch.timeline ?? '', writes_impossible_s: secs(ch.writesImpossibleMs), reason: ch.downReason ?? '', summary: `failover completed: ${ch.from} → ${ch.to}, timeline ${ch.timeline ?? '?'}, writes were impossible for ~${secs(ch.writesImpossibleMs)} s` },
        });
      }
    } else if (st.change?.kind === 'switchover') {
      const ch = st.change;
      findings.push({
        labels: { member: ch.from, event: 'switchover' },
        values: { ...base, member: ch.from, event: 'switchover', from: ch.from, to: ch.to, timeline: ch.timeline ?? '', writes_impossible_s: secs(ch.writesImpossibleMs), summary: `switchover: ${ch.from} → ${ch.to}, timeline ${ch.timeline ?? '?'}, writes paused ~${secs(ch.writesImpossibleMs)} s; resolves when ${ch.from} runs as a replica` },
      });
    }
    return { ok: true, findings, cursor: st.cursor };
  },
});

const MEMBER_CHECKS = ['down', 'timeline_behind', 'pending_restart'] as const;

/** One member: unreachable / missing from the DCS / PostgreSQL not running, timeline behind, pending restart. */
export const patroniMemberRule = defineRuleType({
  type: 'patroni_member',
  summary: 'Patroni members: REST unreachable, missing from the DCS, PostgreSQL not running, timeline behind the leader, pending restart.',
  source: 'patroni',
  shape: {
    checks: z.array(z.enum(MEMBER_CHECKS)).min(1).prefault(['down', 'timeline_behind']).meta({ description: 'down (unreachable | missing | not running) | timeline_behind | pending_restart' }),
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
        unknown.push({ labels: { member: m.name, problem: 'timeline_behind' }, reason: `${m.name} REST API unreachable` });
        if (!m.inDcs) unknown.push({ labels: { member: m.name, problem: 'pending_restart' }, reason: `${m.name} REST API unreachable and not in the DCS view` });
      }
      const values = { member: m.name, state: m.state, role: m.role, timeline: m.timeline ?? '', leader_timeline: c.timeline ?? '', leader: c.leader ?? 'none' };
      if (checks.has('down')) {
        let detail: string | undefined;
        if (m.configured && !m.restReachable) detail = `REST API unreachable (${m.restError ?? 'no answer'})${m.inDcs ? '' : dcsKnown ? ', and gone from the DCS' : ''}`;
        else if (dcsKnown && m.configured && !m.inDcs) detail = `missing from the DCS (its member key expired: Patroni is not running there or cannot reach etcd), PostgreSQL ${m.state}`;
        else if (!m.isLeader && !isHealthyState(m.state)) detail = `PostgreSQL ${m.state}`;
        else if (m.isLeader && m.state !== 'running') detail = `PostgreSQL ${m.state} on the leader`;
        if (detail) findings.push({ labels: { member: m.name, problem: 'down' }, values: { ...values, problem: 'down', detail } });
      }
      if (checks.has('timeline_behind') && !m.isLeader && m.restReachable && m.timeline !== undefined && c.timeline !== undefined && m.timeline < c.timeline) {
        findings.push({ labels: { member: m.name, problem: 'timeline_behind' }, values: { ...values, problem: 'timeline_behind', detail: `timeline ${m.timeline} is behind the leader's ${c.timeline} (needs pg_rewind or reinit)` } });
      }
      if (checks.has('pending_restart') && m.pendingRestart) {
        const why = m.pendingRestartReason ? Object.entries(m.pendingRestartReason).map(([k, v]) => `${k} ${v.old_value ?? '?'} → ${v.new_value ?? '?'}`).join(', ') : 'a parameter change needs a restart';
        findings.push({ labels: { member: m.name, problem: 'pending_restart' }, values: { ...values, problem: 'pending_restart', detail: `pending restart: ${why}` } });
      }
    }
    return { ok: true, findings, ...(unknown.length ? { unknown } : {}) };
  },
});

/** Replication lag as Patroni sees it, against maximum_lag_on_failover from /config (or a fixed threshold). */
export const patroniLagRule = defineRuleType({
  type: 'patroni_lag',
  summary: "Replica lag (Patroni's view) over maximum_lag_on_failover from /config: the replica is no longer a failover candidate.",
  source: 'patroni',
  shape: {
    max_lag_bytes: z.number().int().min(0).optional().meta({ description: 'Threshold in bytes (default: maximum_lag_on_failover from the DCS /config, Patroni default 1048576).' }),
    unknown_lag: z.boolean().prefault(true).meta({ description: 'Report a running replica whose lag Patroni reports as "unknown".' }),
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
  defaultMessage: 'replica {{member}} is {{lag}} behind {{leader}} (max {{max_lag}}): it is no longer a failover candidate',
  check: (_spec, config) => requireSource(config, 'patroni'),
  async evaluate(rule, ctx) {
    const obs = await observe(ctx, 'patroni');
    if (!obs.ok) return obs.evaluation;
    const c: PatroniClusterState = obs.value;
    if (c.views.length === 0) return { ok: false, source: 'patroni', error: c.leaderUnknown ?? 'no DCS view: lag unknown' };
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
        values: { member: m.name, lag_bytes: m.lagBytes ?? 'unknown', lag: m.lagBytes === null ? 'an unknown amount' : formatBytes(m.lagBytes), max_lag_bytes: max, max_lag: formatBytes(max), leader: c.leader, candidate: m.failoverCandidate ? 'yes' : 'no' },
      });
    }
    return { ok: true, findings };
  },
});

const CLUSTER_CHECKS = ['paused', 'scheduled_switchover', 'views_disagree', 'other_primary'] as const;

/** Cluster-wide facts: maintenance mode (paused), a scheduled switchover, members disagreeing about the leader. */
export const patroniClusterRule = defineRuleType({
  type: 'patroni_cluster',
  summary: 'Patroni cluster state: paused (no automatic failover), scheduled switchover, members disagreeing on the leader, a non-leader running as primary.',
  source: 'patroni',
  shape: {
    checks: z.array(z.enum(CLUSTER_CHECKS)).min(1).prefault(['paused', 'scheduled_switchover']),
  },
  placeholders: { problem: CLUSTER_CHECKS.join(' | '), detail: 'what was seen', leader: 'the current leader' },
  defaultMessage: '{{detail}}',
  check: (_spec, config) => requireSource(config, 'patroni'),
  async evaluate(rule, ctx) {
    const obs = await observe(ctx, 'patroni');
    if (!obs.ok) return obs.evaluation;
    const c = obs.value;
    const checks = new Set(rule.spec.checks);
    const findings: Finding[] = [];
    const f = (problem: string, detail: string, extra: Record<string, string> = {}) => findings.push({ labels: { problem, ...extra }, values: { problem, detail, leader: c.leader ?? 'none', ...extra } });
    const unknown: Unknown[] = [];
    // The switchover schedule, the views and the leader come from /cluster only.
    if (c.views.length === 0) for (const problem of ['scheduled_switchover', 'views_disagree', 'other_primary']) unknown.push({ labels: { problem }, reason: c.leaderUnknown ?? 'no DCS view' });
    for (const m of c.members) if (m.statusUnknown) unknown.push({ labels: { problem: 'other_primary', member: m.name }, reason: `${m.name} /patroni: ${m.statusUnknown}` });
    if (checks.has('paused') && c.paused) f('paused', `cluster ${c.scope ?? ''} is paused (maintenance mode): Patroni will not fail over automatically`.replace('  ', ' '));
    if (checks.has('scheduled_switchover') && c.scheduledSwitchover) {
      const s = c.scheduledSwitchover;
      f('scheduled_switchover', `switchover scheduled${s.at ? ` at ${s.at}` : ''}: ${s.from ?? c.leader ?? '?'} → ${s.to ?? 'best candidate'}`);
    }
    if (checks.has('views_disagree') && c.viewsDisagree) f('views_disagree', `members disagree on the leader: ${c.views.map((v) => `${v.from} sees ${v.leader ?? 'none'}`).join(', ')}`);
    if (checks.has('other_primary') && c.views.length > 0) for (const n of c.otherPrimaries) f('other_primary', `${n} reports itself primary but the DCS leader is ${c.leader ?? 'none'}`, { member: n });
    return { ok: true, findings, ...(unknown.length ? { unknown } : {}) };
  },
});

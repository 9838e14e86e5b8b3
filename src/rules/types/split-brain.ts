import { z } from 'zod';
import { matchPostgresNodes, memberAddresses } from '../../sources/topology.js';
import { defineRuleType, v, type Finding, type Unknown } from '../rule-type.js';
import { notConfigured, requireSource, sourceFailed } from './cluster-util.js';

/**
 * Cross-check of PostgreSQL (pg_is_in_recovery on each node, direct SQL) with Patroni: two nodes
 * not in recovery, or a node Patroni calls replica that is not in recovery, is split-brain (e.g. a
 * Patroni-only crash leaves the old PostgreSQL running as a primary, reachable directly). Nodes are
 * joined to members by address (src/sources/topology.ts): config names need not be member names.
 */
export const splitBrainRule = defineRuleType({
  type: 'split_brain',
  summary:
    'Split-brain: more than one node accepts writes (not in recovery), or a node Patroni calls replica is not in recovery.',
  source: 'postgres',
  shape: {
    use_patroni: z
      .boolean()
      .prefault(true)
      .meta({ description: 'Also compare with the Patroni leader/roles (needs sources.patroni).' }),
  },
  placeholders: {
    node: 'the node that should not be a primary (or "cluster" when more than one is)',
    problem: 'multiple_primaries | replica_not_in_recovery',
    primaries: 'nodes not in recovery',
    leader: 'the Patroni leader',
    detail: 'what is wrong, one line',
  },
  defaultMessage: '{{detail}}',
  recovered: (vars) =>
    `one primary again: ${v(vars, 'leader') || 'the leader'} takes writes, every other node is in recovery`,
  check: (spec, config) => [
    ...requireSource(config, 'postgres'),
    ...(spec.use_patroni ? requireSource(config, 'patroni', 'use_patroni') : []),
  ],
  async evaluate(rule, ctx) {
    const src = ctx.sources.postgres;
    if (!src) return notConfigured('postgres');
    const [obs, pat] = await Promise.all([
      src.poll(ctx.signal),
      rule.spec.use_patroni && ctx.sources.patroni ? ctx.sources.patroni.poll(ctx.signal) : Promise.resolve(undefined),
    ]);
    if (!obs.ok) return sourceFailed(obs);
    const primaries = obs.value.nodes.filter((n) => n.reachable && n.inRecovery === false).map((n) => n.name);
    // A node we could not ask (unreachable, or pg_is_in_recovery() failed) may be accepting writes.
    const roleUnknown = obs.value.nodes.filter((n) => !n.reachable || n.inRecovery === undefined);
    const leader = pat?.ok ? pat.value.leader : undefined;
    const findings: Finding[] = [];
    const unknown: Unknown[] = [];
    if (primaries.length < 2 && roleUnknown.length)
      unknown.push({
        labels: { problem: 'multiple_primaries' },
        reason: `role unknown on ${roleUnknown.map((n) => n.name).join(', ')}`,
      });
    if (rule.spec.use_patroni) {
      const patUnknown = !pat
        ? 'sources.patroni not configured'
        : !pat.ok
          ? `patroni: ${pat.error.message}`
          : pat.value.views.length === 0
            ? (pat.value.leaderUnknown ?? 'no DCS view')
            : undefined;
      if (patUnknown) unknown.push({ labels: { problem: 'replica_not_in_recovery' }, reason: patUnknown });
      else
        for (const n of roleUnknown)
          unknown.push({
            labels: { node: n.name, problem: 'replica_not_in_recovery' },
            reason: `role unknown on ${n.name}`,
          });
    }
    const base = { primaries: primaries.join(', '), leader: leader ?? (pat?.ok ? 'none' : 'unknown') };
    if (primaries.length >= 2) {
      findings.push({
        labels: { node: 'cluster', problem: 'multiple_primaries' },
        values: {
          ...base,
          node: 'cluster',
          problem: 'multiple_primaries',
          detail: `SPLIT-BRAIN: ${primaries.length} nodes accept writes (${primaries.join(', ')}); Patroni leader is ${base.leader}`,
        },
      });
    }
    if (pat?.ok) {
      const match = matchPostgresNodes(obs.value.nodes, memberAddresses(pat.value.members));
      for (const name of primaries) {
        const member = match.members.get(name)?.member;
        if (member === undefined) {
          // Which member accepts writes is unknown; two primaries above are reported regardless.
          if (findings.length === 0)
            return {
              ok: false,
              source: 'topology',
              error:
                match.problems.find((p) => p.items.includes(name))?.message ??
                `postgres node ${name} matches no Patroni member`,
            };
          continue;
        }
        const m = pat.value.members.find((x) => x.name === member);
        if (m && !m.isLeader && m.role !== 'unknown' && m.role !== 'leader' && m.role !== 'standby_leader') {
          const shown = member === name ? name : `${name} (${member})`;
          findings.push({
            labels: { node: name, problem: 'replica_not_in_recovery' },
            values: {
              ...base,
              node: name,
              problem: 'replica_not_in_recovery',
              detail: `${shown} is not in recovery (accepts writes) but Patroni lists it as ${m.role}; leader is ${base.leader}`,
            },
          });
        }
      }
    }
    return { ok: true, findings, ...(unknown.length ? { unknown } : {}) };
  },
});

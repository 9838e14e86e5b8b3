import { z } from 'zod';
import { defineRuleType, recoveredByProblem, type Finding, type Unknown } from '../rule-type.js';
import { observe, requireSource } from './cluster-util.js';

const CHECKS = ['quorum', 'unhealthy_member', 'member_count'] as const;

/** The DCS: Patroni cannot elect or keep a leader without etcd quorum. */
export const etcdHealthRule = defineRuleType({
  type: 'etcd_health',
  summary: 'etcd (the DCS): quorum lost, a member unhealthy or unreachable, an even or too small member count.',
  source: 'etcd',
  shape: {
    checks: z.array(z.enum(CHECKS)).min(1).prefault(['quorum', 'unhealthy_member']),
    min_members: z
      .number()
      .int()
      .min(1)
      .prefault(3)
      .meta({ description: 'member_count: fewer members than this is reported (the seed: always 3 or 5).' }),
  },
  placeholders: {
    host: 'the etcd endpoint (unhealthy_member)',
    problem: 'quorum | unhealthy_member | member_count',
    members: 'cluster size',
    healthy: 'healthy members answering',
    quorum: 'members needed for quorum',
    detail: 'what is wrong, one line',
  },
  defaultMessage: '{{detail}}',
  recovered: recoveredByProblem(
    {
      quorum: 'etcd has quorum again (last lost at {{last_at}}): Patroni can elect and keep a leader',
      unhealthy_member: 'etcd member {{host}} is healthy again',
      member_count: 'etcd runs with enough members again',
    },
    'etcd is healthy again',
  ),
  check: (_spec, config) => requireSource(config, 'etcd'),
  async evaluate(rule, ctx) {
    // No endpoint answering may be our own network, not the DCS: unknown (the per-source
    // "cannot read etcd" alert says so), never a quorum page.
    const obs = await observe(ctx, 'etcd');
    if (!obs.ok) return obs.evaluation;
    const checks = new Set(rule.spec.checks);
    const findings: Finding[] = [];
    const unknown: Unknown[] = [];
    const e = obs.value;
    const base = { host: '', members: e.memberCount, healthy: e.healthyCount, quorum: e.quorum };
    const quorumLost = !e.hasQuorum || (e.healthyCount < e.quorum && e.endpoints.length >= e.memberCount);
    if (checks.has('quorum') && quorumLost && e.quorumUnknown)
      unknown.push({ labels: { problem: 'quorum' }, reason: e.quorumUnknown });
    else if (checks.has('quorum') && quorumLost) {
      findings.push({
        labels: { problem: 'quorum' },
        values: {
          ...base,
          problem: 'quorum',
          detail: `etcd has no quorum: ${e.healthyCount} of ${e.memberCount} member(s) healthy, ${e.quorum} needed${e.leaders.length === 0 ? ', no leader' : ''}. Patroni cannot elect or keep a leader`,
        },
      });
    }
    if (checks.has('unhealthy_member')) {
      for (const ep of e.endpoints) {
        if (ep.healthy) continue;
        const host = ep.endpoint.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
        if (ep.healthUnknown) {
          unknown.push({ labels: { host, problem: 'unhealthy_member' }, reason: ep.healthUnknown });
          continue;
        }
        findings.push({
          labels: { host, problem: 'unhealthy_member' },
          values: {
            ...base,
            host,
            problem: 'unhealthy_member',
            detail: `etcd member ${host} is ${ep.reachable ? 'unhealthy' : 'unreachable'}${ep.healthReason ? `: ${ep.healthReason}` : ''} (${e.healthyCount}/${e.memberCount} healthy, quorum ${e.quorum})`,
          },
        });
      }
    }
    if (checks.has('member_count') && !e.membersKnown)
      unknown.push({ labels: { problem: 'member_count' }, reason: 'no etcd member list was read' });
    else if (checks.has('member_count') && (e.memberCount % 2 === 0 || e.memberCount < rule.spec.min_members)) {
      findings.push({
        labels: { problem: 'member_count' },
        values: {
          ...base,
          problem: 'member_count',
          detail: `etcd has ${e.memberCount} member(s)${e.memberCount % 2 === 0 ? ' (even: one more member adds no fault tolerance)' : ''}; run 3 or 5 (tolerates 1 or 2 failures)`,
        },
      });
    }
    return { ok: true, findings, ...(unknown.length ? { unknown } : {}) };
  },
});

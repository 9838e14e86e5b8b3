import { z } from 'zod';
import { describeServer, findBackend, type HaproxyServer } from '../../sources/haproxy/status.js';
import { matchHaproxyServers, memberAddresses } from '../../sources/topology.js';
import { defineRuleType, recoveredByProblem, type Finding, type Unknown } from '../rule-type.js';
import { notConfigured, observe, requireSource, sourceFailed } from './cluster-util.js';

const upOf = (servers: readonly HaproxyServer[]) => servers.filter((s) => s.status.routed);

/**
 * The write backend (Patroni `/primary` checks): replicas are DOWN by design (503), so the
 * invariant is "exactly one server UP, and it is the Patroni leader". 0 UP = writes impossible;
 * ≥ 2 UP = two nodes claim primary (HAProxy also counts servers UP for < 0.3 s after a restart:
 * give this a short `for:`). Which member the UP server is comes from src/sources/topology.ts
 * (address first: haproxy.cfg `server pg1 …` is Patroni `pg-node-1`); when it cannot be told,
 * the comparison is unknown (a failed evaluation), never a page.
 */
export const haproxyWriteBackendRule = defineRuleType({
  type: 'haproxy_write_backend',
  summary: 'HAProxy write backend: exactly one server UP, and it is the Patroni leader.',
  source: 'haproxy',
  shape: {
    backend: z.string().optional().meta({ description: 'Backend name (default: sources.haproxy.write_backend).' }),
    check_leader: z
      .boolean()
      .prefault(true)
      .meta({ description: 'Compare the UP server with the Patroni leader (needs sources.patroni).' }),
    server_members: z.record(z.string(), z.string()).optional().meta({
      description:
        "HAProxy server name → Patroni member name. Only needed when the server address (HAProxy `addr`) is not the member's PostgreSQL or REST address, and the names differ.",
    }),
  },
  placeholders: {
    backend: 'the backend',
    problem: 'no_primary | multiple_primaries | wrong_primary',
    up_count: 'servers UP',
    up_servers: 'names of the servers UP',
    servers: 'every server with its status and check result',
    leader: 'the Patroni leader',
    up_member: 'the Patroni member of the UP server (wrong_primary)',
    detail: 'what is wrong, one line',
  },
  defaultMessage: '{{detail}}',
  recovered: recoveredByProblem(
    {
      no_primary: '{{backend}} has exactly one server UP again: writes have somewhere to go',
      multiple_primaries: '{{backend}} has exactly one server UP again',
      wrong_primary: '{{backend}} sends writes to the Patroni leader again',
    },
    '{{backend}} routes writes to the leader again',
  ),
  check: (spec, config) => [
    ...requireSource(config, 'haproxy'),
    ...(spec.check_leader ? requireSource(config, 'patroni', 'check_leader') : []),
  ],
  async evaluate(rule, ctx) {
    const src = ctx.sources.haproxy;
    if (!src) return notConfigured('haproxy');
    const name = rule.spec.backend ?? src.writeBackend;
    const [obs, pat] = await Promise.all([
      src.poll(ctx.signal),
      rule.spec.check_leader && ctx.sources.patroni ? ctx.sources.patroni.poll(ctx.signal) : Promise.resolve(undefined),
    ]);
    if (!obs.ok) return sourceFailed(obs);
    const b = findBackend(obs.value, name);
    if (!b)
      return {
        ok: true,
        findings: [
          {
            labels: { backend: name, problem: 'missing' },
            values: {
              backend: name,
              problem: 'missing',
              up_count: 0,
              up_servers: '',
              servers: '',
              leader: '',
              up_member: '',
              detail: `backend ${name} is not in the HAProxy stats (renamed? wrong stats endpoint?)`,
            },
          },
        ],
      };
    const up = upOf(b.servers);
    const servers = b.servers.map((s) => `${s.name} ${describeServer(s)}`).join('; ');
    const leader = pat?.ok && pat.value.leader && pat.value.leaderHealthy ? pat.value.leader : undefined;
    const values = {
      backend: name,
      up_count: up.length,
      up_servers: up.map((s) => s.name).join(', '),
      servers,
      leader: leader ?? (pat?.ok ? 'none' : 'unknown'),
      up_member: '',
    };
    const findings: Finding[] = [];
    const unknown: Unknown[] = [];
    // A status we cannot read (missing column, new keyword) may be UP: fewer than two UP is then unknown.
    const unreadable = b.servers.filter((s) => s.status.state === 'UNKNOWN');
    if (unreadable.length && up.length < 2)
      return {
        ok: true,
        findings,
        unknown: [
          {
            labels: { backend: name },
            reason: `unreadable status for ${unreadable.map((s) => `${s.name} "${s.status.raw}"`).join(', ')}`,
          },
        ],
      };
    // Without a readable Patroni leader the UP server cannot be compared with it.
    if (rule.spec.check_leader && (!pat?.ok || pat.value.leaderUnknown))
      unknown.push({
        labels: { backend: name, problem: 'wrong_primary' },
        reason: pat?.ok
          ? pat.value.leaderUnknown!
          : pat
            ? `patroni: ${pat.error.message}`
            : 'sources.patroni not configured',
      });
    if (up.length === 0)
      findings.push({
        labels: { backend: name, problem: 'no_primary' },
        values: {
          ...values,
          problem: 'no_primary',
          detail: `no server UP in ${name}: writes are impossible (${servers})`,
        },
      });
    else if (up.length >= 2)
      findings.push({
        labels: { backend: name, problem: 'multiple_primaries' },
        values: {
          ...values,
          problem: 'multiple_primaries',
          detail: `${up.length} servers UP in ${name} (${values.up_servers}): more than one node claims to be primary`,
        },
      });
    else if (leader && pat?.ok) {
      const server = up[0]!;
      const match = matchHaproxyServers(b.servers, memberAddresses(pat.value.members), rule.spec.server_members);
      const member = match.members.get(server.name)?.member;
      // Which member takes the writes is unknown: the comparison cannot be made (neither fire nor resolve).
      if (member === undefined)
        unknown.push({
          labels: { backend: name, problem: 'wrong_primary' },
          reason:
            match.problems.find((p) => p.items.includes(server.name))?.message ??
            `HAProxy server ${server.name} matches no Patroni member`,
        });
      else if (member !== leader) {
        const shown = member === server.name ? server.name : `${server.name} (${member})`;
        findings.push({
          labels: { backend: name, problem: 'wrong_primary' },
          values: {
            ...values,
            up_member: member,
            problem: 'wrong_primary',
            detail: `${name} sends writes to ${shown} but the Patroni leader is ${leader}`,
          },
        });
      }
    }
    return { ok: true, findings, ...(unknown.length ? { unknown } : {}) };
  },
});

const BACKEND_CHECKS = ['no_server_up', 'server_down', 'sessions', 'queue'] as const;

/** Generic backends (Odoo workers, read replicas): no server UP, a server DOWN with its check reason, sessions near slim, queueing. */
export const haproxyBackendRule = defineRuleType({
  type: 'haproxy_backend',
  summary:
    'HAProxy backends: no server UP, a server DOWN (with the check reason), sessions near the limit, requests queueing.',
  source: 'haproxy',
  shape: {
    backends: z
      .array(z.string().min(1))
      .min(1)
      .meta({ description: 'Backend names, e.g. [odoo_workers, odoo_longpoll_backend].' }),
    checks: z.array(z.enum(BACKEND_CHECKS)).min(1).prefault(['no_server_up', 'server_down', 'sessions', 'queue']),
    sessions_ratio: z
      .number()
      .gt(0)
      .max(1)
      .prefault(0.9)
      .meta({ description: 'Report when current sessions reach this fraction of slim (server or backend).' }),
    max_queue: z
      .number()
      .int()
      .min(0)
      .prefault(0)
      .meta({ description: 'Report when more requests than this wait in the backend queue.' }),
  },
  placeholders: {
    backend: 'the backend',
    server: 'the server (server_down, sessions)',
    problem: `${BACKEND_CHECKS.join(' | ')} | missing`,
    status: 'server status (DOWN, DOWN 1/2, ...)',
    check: 'check result: e.g. "Layer7 wrong status, code 503"',
    sessions: 'current sessions',
    limit: 'session limit',
    queue: 'requests queued',
    up_count: 'servers UP in the backend',
    detail: 'what is wrong, one line',
  },
  defaultMessage: '{{detail}}',
  recovered: recoveredByProblem(
    {
      no_server_up: '{{backend}} has servers UP again',
      server_down: '{{backend}}/{{server}} is UP again',
      sessions: '{{backend}} {{server}} sessions back under the limit',
      queue: 'nothing queued in {{backend}} any more',
      missing: 'backend {{backend}} is in the HAProxy stats again',
    },
    '{{backend}} is healthy again',
  ),
  check: (_spec, config) => requireSource(config, 'haproxy'),
  async evaluate(rule, ctx) {
    const obs = await observe(ctx, 'haproxy');
    if (!obs.ok) return obs.evaluation;
    const checks = new Set(rule.spec.checks);
    const findings: Finding[] = [];
    const unknown: Unknown[] = [];
    for (const name of rule.spec.backends) {
      const b = findBackend(obs.value, name);
      const base = {
        backend: name,
        server: '',
        status: '',
        check: '',
        sessions: '',
        limit: '',
        queue: '',
        up_count: '',
      };
      if (!b) {
        findings.push({
          labels: { backend: name, problem: 'missing' },
          values: { ...base, problem: 'missing', detail: `backend ${name} is not in the HAProxy stats` },
        });
        continue;
      }
      const up = upOf(b.servers);
      // A status we cannot read is neither DOWN nor UP.
      for (const s of b.servers.filter((x) => x.status.state === 'UNKNOWN'))
        unknown.push({
          labels: { backend: name, server: s.name, problem: 'server_down' },
          reason: `unreadable status "${s.status.raw}"`,
        });
      if (up.length === 0 && b.servers.some((x) => x.status.state === 'UNKNOWN'))
        unknown.push({ labels: { backend: name, problem: 'no_server_up' }, reason: 'a server status is unreadable' });
      else if (checks.has('no_server_up') && up.length === 0) {
        findings.push({
          labels: { backend: name, problem: 'no_server_up' },
          values: {
            ...base,
            problem: 'no_server_up',
            up_count: 0,
            detail: `no server UP in ${name}: every request fails (${b.servers.map((s) => `${s.name} ${describeServer(s)}`).join('; ')})`,
          },
        });
      }
      for (const s of b.servers) {
        const check = [s.checkDesc ?? s.checkStatus, s.checkCode !== undefined ? `code ${s.checkCode}` : undefined]
          .filter(Boolean)
          .join(', ');
        if (checks.has('server_down') && s.status.state === 'DOWN') {
          findings.push({
            labels: { backend: name, server: s.name, problem: 'server_down' },
            values: {
              ...base,
              server: s.name,
              problem: 'server_down',
              status: s.status.raw,
              check,
              up_count: up.length,
              detail: `${name}/${s.name} is ${s.status.raw}${check ? ` (${check})` : ''}; ${up.length} of ${b.servers.length} server(s) UP`,
            },
          });
        }
        if (checks.has('sessions') && s.sessionLimit && s.sessions >= rule.spec.sessions_ratio * s.sessionLimit) {
          findings.push({
            labels: { backend: name, server: s.name, problem: 'sessions' },
            values: {
              ...base,
              server: s.name,
              problem: 'sessions',
              sessions: s.sessions,
              limit: s.sessionLimit,
              detail: `${name}/${s.name} has ${s.sessions} sessions of ${s.sessionLimit} allowed`,
            },
          });
        }
      }
      if (checks.has('sessions') && b.sessionLimit && b.sessions >= rule.spec.sessions_ratio * b.sessionLimit) {
        findings.push({
          labels: { backend: name, problem: 'sessions' },
          values: {
            ...base,
            problem: 'sessions',
            sessions: b.sessions,
            limit: b.sessionLimit,
            detail: `${name} has ${b.sessions} sessions of ${b.sessionLimit} allowed`,
          },
        });
      }
      if (checks.has('queue') && b.queue > rule.spec.max_queue) {
        findings.push({
          labels: { backend: name, problem: 'queue' },
          values: {
            ...base,
            problem: 'queue',
            queue: b.queue,
            detail: `${b.queue} request(s) queued in ${name}: servers are saturated (maxconn) or too few are UP`,
          },
        });
      }
    }
    return { ok: true, findings, ...(unknown.length ? { unknown } : {}) };
  },
});

import { z } from 'zod';
import { defineRuleType, v, type Finding } from '../rule-type.js';
import { excerpt } from '../../util/text.js';

/**
 * An HTTP endpoint that must answer with an expected status: Odoo's /web/health on each
 * worker, a Patroni /liveness, a load balancer's health page. The simplest end-to-end rule.
 */
export const httpRule = defineRuleType({
  type: 'http',
  summary: 'HTTP endpoints that must answer with an expected status (e.g. Odoo /web/health on each worker).',
  source: 'http',
  shape: {
    targets: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          url: z.string().regex(/^https?:\/\/\S+$/, 'expected an http:// or https:// URL'),
        }),
      )
      .min(1)
      .meta({ description: 'Endpoints to probe; each failing one is a separate alert labelled target=<name>.' }),
    method: z.enum(['GET', 'HEAD', 'OPTIONS']).optional().meta({ description: 'Default GET.' }),
    expect_status: z
      .array(z.number().int().min(100).max(599))
      .min(1)
      .optional()
      .meta({ description: 'Accepted statuses (default [200]).' }),
    body_contains: z.string().optional().meta({ description: 'Text the response body must contain, e.g. "pass".' }),
  },
  placeholders: {
    target: 'the target name',
    url: 'the probed URL',
    status: 'HTTP status received, or "none"',
    error: 'why the check failed',
    duration_ms: 'how long the request took',
  },
  defaultMessage: '{{target}} failed its health check: {{error}}',
  recovered: (vars) => `${v(vars, 'target')} answers its health check again (last failure at ${v(vars, 'last_at')})`,
  async evaluate(rule, ctx) {
    const expected = rule.spec.expect_status ?? [200];
    const results = await Promise.all(
      rule.spec.targets.map(async (t) => ({
        t,
        r: await ctx.sources.http.probe(t.url, {
          method: rule.spec.method ?? 'GET',
          timeoutMs: rule.timeout,
          signal: ctx.signal,
        }),
      })),
    );
    // Our own deadline cut the probes short: a "cancelled" probe says nothing about the target.
    if (ctx.signal.aborted)
      return {
        ok: false,
        source: 'http',
        error: `probes cancelled: ${String((ctx.signal.reason as Error | undefined)?.message ?? ctx.signal.reason)}`,
      };
    const findings: Finding[] = [];
    for (const { t, r } of results) {
      let error = r.error;
      if (!error && r.status !== undefined && !expected.includes(r.status))
        error = `HTTP ${r.status} (expected ${expected.join(' or ')})`;
      if (!error && rule.spec.body_contains !== undefined && !(r.body ?? '').includes(rule.spec.body_contains))
        error = `body does not contain ${JSON.stringify(rule.spec.body_contains)}`;
      if (!error) continue;
      findings.push({
        labels: { target: t.name },
        values: {
          target: t.name,
          url: t.url,
          status: r.status ?? 'none',
          error,
          duration_ms: Math.round(r.durationMs),
        },
        ...(r.body ? { samples: [excerpt(r.body, 300)] } : {}),
      });
    }
    return { ok: true, findings };
  },
});

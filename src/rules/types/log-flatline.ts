import { z } from 'zod';
import { zDuration } from '../../config/zod-types.js';
import { defineRuleType, groupText, v, type Finding } from '../rule-type.js';
import {
  LOG_PLACEHOLDERS,
  buildQuery,
  bucketHits,
  checkLogRule,
  evaluationOk,
  failedEvaluation,
  formatSample,
  groupAggs,
  groupFields,
  iso,
  isEvaluation,
  logCommonShape,
  timeClause,
  blindEvaluation,
  searchAll,
  startLogRun,
  topHitsAgg,
  walkGroups,
  windowValues,
  type Bucket,
} from '../../sources/elasticsearch/query.js';

/**
 * Fewer than `threshold` lines arrived (event.ingested) in the sliding window [end − window, end):
 * logs stopped reaching Elasticsearch. While the window still reaches back into a span when this
 * rule could not evaluate (Elasticsearch down, or the watcher), "too few" is unknown, not a page:
 * the lines may just not have been shipped yet. Per group
 * (usually host.name), a group is known when it logged anything within `remember` (so a host that
 * went silent is still listed) or is in `expected` (so one that has been silent longer still alerts).
 */
export const logFlatlineRule = defineRuleType({
  type: 'log_flatline',
  summary:
    'Fewer than N lines in a window, per host (or other group): logs stopped — Filebeat, the service or the host is dead.',
  source: 'elasticsearch',
  shape: {
    ...logCommonShape,
    threshold: z
      .number()
      .int()
      .min(1)
      .optional()
      .meta({ description: 'Fire when the count in the window is below this (default 1: nothing at all).' }),
    remember: zDuration({ min: 60_000 }).optional().meta({
      description:
        'A group that logged within this lookback is expected to keep logging (default 24h); after that it is forgotten.',
    }),
    expected: z
      .array(z.string().min(1))
      .optional()
      .meta({ description: 'Values of the (single) group_by field that must always log, e.g. [odoo1, odoo2].' }),
  },
  placeholders: {
    ...LOG_PLACEHOLDERS,
    threshold: 'the configured threshold',
    last_seen: 'time of the last line within remember, or "never"',
  },
  defaultMessage: 'only {{count}} log lines in {{window}} {{group}} (last seen {{last_seen}})',
  recovered: (vars) => `log lines${groupText(vars)} are arriving again (quiet until ${v(vars, 'last_at')})`,
  check(spec, config) {
    const out = checkLogRule(spec, config);
    if (spec.expected && (spec.group_by?.length ?? 0) !== 1)
      out.push({
        field: 'expected',
        message: 'expected needs exactly one group_by field (the values listed are of that field)',
      });
    return out;
  },
  async evaluate(rule, ctx) {
    const spec = rule.spec;
    const run = startLogRun(spec, ctx, { everyMs: rule.every });
    if (isEvaluation(run)) return run;
    const { es, w, index } = run;
    const { end, window } = w;
    const remember = Math.max(spec.remember ?? 86_400_000, window);
    const threshold = spec.threshold ?? 1;
    const groups = groupFields(spec);
    const leaf: Record<string, unknown> = {
      cur: { filter: timeClause(end - window, end, 'arrival') },
      last_seen: { max: { field: '@timestamp' } },
      ...((spec.samples ?? 1) > 0 ? { samples: topHitsAgg(spec, 1) } : {}),
    };
    const body = {
      query: buildQuery(spec, { gte: end - remember, lt: end, on: 'arrival' }),
      track_total_hits: true,
      size: 0,
      aggs: groups.length ? groupAggs(groups, spec.group_limit ?? 50, leaf) : leaf,
    };
    const r = await searchAll(es, [{ index, body }], ctx);
    if (!r.ok) return failedEvaluation(r);
    const findings: Finding[] = [];
    const seen = new Set<string>();
    const judge = (labels: Record<string, string>, node: Record<string, unknown> | undefined, group: string) => {
      const count = (node?.['cur'] as Bucket | undefined)?.doc_count ?? 0;
      if (count >= threshold) return;
      const last = (node?.['last_seen'] as { value?: number | null } | undefined)?.value;
      const samples = bucketHits(node as Bucket | undefined).map(formatSample);
      findings.push({
        labels,
        values: {
          ...windowValues({ ...w, start: end - window }, index, count, group, samples),
          threshold,
          last_seen: typeof last === 'number' ? iso(last) : `never in ${Math.round(remember / 3_600_000)}h`,
          ...labels,
        },
        samples,
      });
    };
    const res = r.responses[0]!;
    if (groups.length === 0) judge({}, res.aggregations, '');
    else {
      walkGroups(res.aggregations, groups, (labels, b, group) => {
        seen.add(JSON.stringify(labels));
        judge(labels, b as unknown as Record<string, unknown>, group);
      });
      const g = groups[0]!;
      for (const v of spec.expected ?? []) {
        const labels = { [g.label]: v };
        if (!seen.has(JSON.stringify(labels))) judge(labels, undefined, `${g.field}=${v}`);
      }
    }
    if (findings.length > 0 && w.blindUntil !== undefined) return blindEvaluation(w, 'flatline');
    return evaluationOk(findings, w);
  },
});

import { z } from 'zod';
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
  isEvaluation,
  logCommonShape,
  blindEvaluation,
  rangeClause,
  searchAll,
  startLogRun,
  topHitsAgg,
  walkGroups,
  windowValues,
  type Bucket,
} from '../../sources/elasticsearch/query.js';

/**
 * The count in the current window [end − window, end) against the previous one
 * [end − 2·window, end − window), per group. Minimum counts on both sides keep quiet hours
 * (2 → 6 lines) from paging anyone. Looks at the present only: a spike that came and went
 * while the service was down is not replayed. Windows run on event time (@timestamp): a backlog
 * shipped at once after an outage is not a spike. Late lines make the current window look low,
 * so a "down" while the windows reach back into a span this rule could not evaluate is unknown.
 */
export const logSpikeRule = defineRuleType({
  type: 'log_spike',
  summary:
    'Current window vs the previous one: the count rose (or fell) by a factor, with minimum counts against noise.',
  source: 'elasticsearch',
  shape: {
    ...logCommonShape,
    spike_height: z
      .number()
      .min(1)
      .meta({ description: 'Factor: up = current ≥ height × previous; down = previous ≥ height × current.' }),
    direction: z.enum(['up', 'down', 'both']).optional().meta({ description: 'Default up.' }),
    min_current: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: 'Current window needs at least this many lines (default 10 for up, 0 for down).' }),
    min_previous: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: 'Previous window needs at least this many lines (default 0 for up, 10 for down).' }),
  },
  placeholders: {
    ...LOG_PLACEHOLDERS,
    previous: 'count in the previous window',
    ratio: 'current / previous',
    direction: 'up | down',
  },
  defaultMessage: 'log volume {{direction}}: {{count}} in the last {{window}} vs {{previous}} before {{group}}',
  recovered: (vars) =>
    `log volume${groupText(vars)} back to normal for ${v(vars, 'quiet_for')} (last spike at ${v(vars, 'last_at')})`,
  check: checkLogRule,
  async evaluate(rule, ctx) {
    const spec = rule.spec;
    const run = startLogRun(spec, ctx, { everyMs: rule.every });
    if (isEvaluation(run)) return run;
    const { es, w, index } = run;
    const { end, window } = w;
    const groups = groupFields(spec);
    const nSamples = spec.samples ?? 3;
    const leaf: Record<string, unknown> = {
      cur: {
        filter: rangeClause(end - window, end),
        ...(nSamples > 0 ? { aggs: { samples: topHitsAgg(spec, nSamples) } } : {}),
      },
      prev: { filter: rangeClause(end - 2 * window, end - window) },
    };
    const body = {
      query: buildQuery(spec, { gte: end - 2 * window, lt: end, on: 'event' }),
      track_total_hits: true,
      size: 0,
      aggs: groups.length ? groupAggs(groups, spec.group_limit ?? 50, leaf) : leaf,
    };
    const r = await searchAll(es, [{ index, body }], ctx);
    if (!r.ok) return failedEvaluation(r);
    const dir = spec.direction ?? 'up';
    const findings: Finding[] = [];
    const judge = (labels: Record<string, string>, node: Record<string, unknown> | undefined, group: string) => {
      const cur = (node?.['cur'] as Bucket | undefined)?.doc_count ?? 0;
      const prev = (node?.['prev'] as Bucket | undefined)?.doc_count ?? 0;
      const up =
        (dir === 'up' || dir === 'both') &&
        cur >= (spec.min_current ?? 10) &&
        prev >= (spec.min_previous ?? 0) &&
        cur >= spec.spike_height * prev &&
        cur > prev;
      const down =
        (dir === 'down' || dir === 'both') &&
        prev >= (spec.min_previous ?? 10) &&
        cur >= (spec.min_current ?? 0) &&
        prev >= spec.spike_height * cur &&
        prev > cur;
      if (!up && !down) return;
      const samples = bucketHits(node?.['cur'] as Bucket | undefined).map(formatSample);
      findings.push({
        labels,
        values: {
          ...windowValues({ ...w, start: end - window }, index, cur, group, samples),
          previous: prev,
          ratio: prev === 0 ? 'inf' : Math.round((cur / prev) * 100) / 100,
          direction: up ? 'up' : 'down',
          ...labels,
        },
        samples,
      });
    };
    if (groups.length === 0) judge({}, r.responses[0]!.aggregations, '');
    else
      walkGroups(r.responses[0]!.aggregations, groups, (labels, b, group) =>
        judge(labels, b as unknown as Record<string, unknown>, group),
      );
    if (w.blindUntil !== undefined && findings.some((f) => f.values['direction'] === 'down'))
      return blindEvaluation(w, 'log volume down');
    return evaluationOk(findings, w);
  },
});

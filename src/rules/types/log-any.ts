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
  sampleSourceFields,
  searchAll,
  startLogRun,
  topHitsAgg,
  walkGroups,
  windowValues,
  TIMESTAMP,
} from '../../sources/elasticsearch/query.js';

/**
 * Every matching line is reported once: each evaluation queries the new slice
 * [previous end, now − ingest_delay) of arrival time (event.ingested), so consecutive ticks
 * neither overlap nor leave gaps, and a line shipped late (after an Elasticsearch outage) is
 * counted when it arrives. The alert resolves on the first slice without matches (use
 * keep_firing_for to hold it).
 */
export const logAnyRule = defineRuleType({
  type: 'log_any',
  summary: 'Log lines matching a query (each line counted once); one alert per group with count and sample lines.',
  source: 'elasticsearch',
  shape: { ...logCommonShape },
  placeholders: LOG_PLACEHOLDERS,
  defaultMessage: '{{count}} matching log line(s) {{group}}: {{sample}}',
  recovered: (vars) =>
    `no matching log lines${groupText(vars)} for ${v(vars, 'quiet_for')} (last at ${v(vars, 'last_at')})`,
  check: checkLogRule,
  async evaluate(rule, ctx) {
    const spec = rule.spec;
    const run = startLogRun(spec, ctx, { everyMs: rule.every, slices: true });
    if (isEvaluation(run)) return run;
    const { es, w, index } = run;
    const groups = groupFields(spec);
    const nSamples = spec.samples ?? 3;
    const body: Record<string, unknown> = {
      query: buildQuery(spec, { gte: w.start, lt: w.end, on: 'arrival' }),
      track_total_hits: true,
      size: groups.length ? 0 : nSamples,
      sort: [{ [TIMESTAMP]: { order: 'desc' } }],
      _source: sampleSourceFields(spec),
      ...(groups.length
        ? {
            aggs: groupAggs(
              groups,
              spec.group_limit ?? 50,
              nSamples > 0 ? { samples: topHitsAgg(spec, nSamples) } : {},
            ),
          }
        : {}),
    };
    const r = await searchAll(es, [{ index, body }], ctx);
    if (!r.ok) return failedEvaluation(r);
    const res = r.responses[0]!;
    const findings: Finding[] = [];
    if (groups.length === 0) {
      const count = res.hits.total.value;
      if (count > 0) {
        const samples = res.hits.hits.map((h) => formatSample(h._source ?? {}));
        findings.push({
          labels: {},
          values: windowValues({ ...w, window: w.end - w.start }, index, count, '', samples),
          samples,
        });
      }
    } else {
      walkGroups(res.aggregations, groups, (labels, b, group) => {
        if (b.doc_count <= 0) return;
        const samples = bucketHits(b).map(formatSample);
        findings.push({
          labels,
          values: { ...windowValues({ ...w, window: w.end - w.start }, index, b.doc_count, group, samples), ...labels },
          samples,
        });
      });
    }
    return evaluationOk(findings, w);
  },
});

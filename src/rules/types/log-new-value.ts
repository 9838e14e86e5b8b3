import { z } from 'zod';
import { zDuration } from '../../config/zod-types.js';
import { defineRuleType, v, type Finding } from '../rule-type.js';
import {
  LOG_PLACEHOLDERS,
  buildQuery,
  bucketHits,
  checkLogRule,
  evaluationOk,
  failedEvaluation,
  formatSample,
  iso,
  isEvaluation,
  logCommonShape,
  searchAll,
  startLogRun,
  topHitsAgg,
  windowValues,
  type Bucket,
} from '../../sources/elasticsearch/query.js';

/**
 * A value of `field` (e.g. error.type) seen in the new slice [previous end, now − ingest_delay) of
 * arrival time (event.ingested, so late-shipped lines are checked once) that
 * did not occur during `history` before it. Two searches: the slice's values, then which of those
 * occurred before (only when there are candidates). The alert resolves on the next slice.
 */
export const logNewValueRule = defineRuleType({
  type: 'log_new_value',
  summary: 'A first-seen value of a field (e.g. a new exception type) compared with a history window (default 30d).',
  source: 'elasticsearch',
  shape: {
    ...logCommonShape,
    field: z.string().min(1).meta({ description: 'Keyword field whose new values alert, e.g. error.type.' }),
    history: zDuration({ min: 60_000 })
      .optional()
      .meta({ description: 'How far back a value counts as known (default 30d).' }),
    max_values: z
      .number()
      .int()
      .min(1)
      .max(500)
      .optional()
      .meta({ description: 'At most this many distinct values per slice are checked (default 50).' }),
  },
  placeholders: { ...LOG_PLACEHOLDERS, value: 'the new value', field: 'the field', history: 'the history window' },
  defaultMessage: 'new {{field}} {{value}} ({{count}} line(s), not seen in {{history}})',
  recovered: (vars) =>
    `no new line with ${v(vars, 'field')} ${v(vars, 'value')} for ${v(vars, 'quiet_for')} (last at ${v(vars, 'last_at')})`,
  check(spec, config) {
    const out = checkLogRule(spec, config);
    if (spec.group_by)
      out.push({
        field: 'group_by',
        message: 'log_new_value alerts per new value of `field`; group_by is not supported here',
      });
    return out;
  },
  async evaluate(rule, ctx) {
    const spec = rule.spec;
    const run = startLogRun(spec, ctx, { everyMs: rule.every, slices: true });
    if (isEvaluation(run)) return run;
    const { es, w, index } = run;
    const history = spec.history ?? 30 * 86_400_000;
    const nSamples = spec.samples ?? 3;
    const size = spec.max_values ?? 50;
    const first = await searchAll(
      es,
      [
        {
          index,
          body: {
            query: buildQuery(spec, { gte: w.start, lt: w.end, on: 'arrival' }, [{ exists: { field: spec.field } }]),
            track_total_hits: true,
            size: 0,
            aggs: {
              values: {
                terms: { field: spec.field, size },
                ...(nSamples > 0 ? { aggs: { samples: topHitsAgg(spec, nSamples) } } : {}),
              },
            },
          },
        },
      ],
      ctx,
    );
    if (!first.ok) return failedEvaluation(first);
    const buckets = (first.responses[0]!.aggregations?.['values'] as { buckets?: Bucket[] } | undefined)?.buckets ?? [];
    if (buckets.length === 0) return evaluationOk([], w);
    const candidates = buckets.map((b) => b.key as string | number);
    const known = await searchAll(
      es,
      [
        {
          index,
          body: {
            // Same clock as the slice: "known" means arrived before it, so a late line is not its own history.
            query: buildQuery(spec, { gte: w.start - history, lt: w.start, on: 'arrival' }, [
              { terms: { [spec.field]: candidates } },
            ]),
            track_total_hits: true,
            size: 0,
            aggs: { values: { terms: { field: spec.field, size: candidates.length } } },
          },
        },
      ],
      ctx,
    );
    if (!known.ok) return failedEvaluation(known);
    const old = new Set(
      ((known.responses[0]!.aggregations?.['values'] as { buckets?: Bucket[] } | undefined)?.buckets ?? []).map((b) =>
        String(b.key),
      ),
    );
    const label = spec.field.replace(/[^A-Za-z0-9_]/g, '_');
    const findings: Finding[] = [];
    for (const b of buckets) {
      const value = b.key_as_string ?? String(b.key);
      if (old.has(String(b.key))) continue;
      const samples = bucketHits(b).map(formatSample);
      findings.push({
        labels: { [label]: value },
        values: {
          ...windowValues({ ...w, window: w.end - w.start }, index, b.doc_count, '', samples),
          value,
          field: spec.field,
          history: `${Math.round(history / 86_400_000)}d`,
          first_seen_after: iso(w.start),
        },
        samples,
      });
    }
    return evaluationOk(findings, w);
  },
});

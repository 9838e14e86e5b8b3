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
  iso,
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

/** At most this many windows are evaluated to catch up after downtime (the rest is skipped). */
export const MAX_CATCH_UP_WINDOWS = 60;

/**
 * At least `threshold` matching lines within a sliding `window` ending at now − ingest_delay,
 * optionally per group. The window runs on arrival time (event.ingested): a backlog shipped after
 * an outage is counted in the window it arrives in instead of slipping behind the window. The window slides with every tick, so the alert resolves when the rate drops.
 * When the gap since the last evaluated point is longer than the window (downtime, slow ticks),
 * the windows ending at end − k·window back to that point are evaluated too (same _msearch),
 * so a burst during the gap is still reported.
 */
export const logFrequencyRule = defineRuleType({
  type: 'log_frequency',
  summary: 'At least N matching log lines within a sliding window, optionally per group (db, host, source IP).',
  source: 'elasticsearch',
  shape: {
    ...logCommonShape,
    threshold: z.number().int().min(1).meta({ description: 'Fire when the count in the window is at least this.' }),
  },
  placeholders: { ...LOG_PLACEHOLDERS, threshold: 'the configured threshold' },
  defaultMessage: '{{count}} matching log lines in {{window}} (threshold {{threshold}}) {{group}}',
  recovered: (vars) =>
    `matching log lines${groupText(vars)} back under ${v(vars, 'threshold')} per ${v(vars, 'window')} for ${v(vars, 'quiet_for')} (last over it at ${v(vars, 'last_at')})`,
  check: checkLogRule,
  async evaluate(rule, ctx) {
    const spec = rule.spec;
    const run = startLogRun(spec, ctx, { everyMs: rule.every });
    if (isEvaluation(run)) return run;
    const { es, w, index } = run;
    const groups = groupFields(spec);
    const nSamples = spec.samples ?? 3;
    // Window ends: end, end − window, … while still after the previous end (catch-up after a gap).
    const ends: number[] = [w.end];
    if (w.resumed)
      for (let e = w.end - w.window; e > w.start && ends.length <= MAX_CATCH_UP_WINDOWS; e -= w.window) ends.push(e);
    const items = ends.map((e) => ({
      index,
      body: {
        query: buildQuery(spec, { gte: e - w.window, lt: e, on: 'arrival' }),
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
                spec.threshold,
              ),
            }
          : {}),
      },
    }));
    const r = await searchAll(es, items, ctx);
    if (!r.ok) return failedEvaluation(r);
    // Per group, the window with the highest count wins (the current one on ties).
    const best = new Map<string, Finding & { count: number }>();
    r.responses.forEach((res, i) => {
      const e = ends[i]!;
      const win = { ...w, start: e - w.window, end: e };
      const consider = (labels: Record<string, string>, count: number, group: string, samples: string[]) => {
        if (count < spec.threshold) return;
        const key = JSON.stringify(labels);
        const prev = best.get(key);
        if (prev && prev.count >= count) return;
        best.set(key, {
          labels,
          count,
          values: { ...windowValues(win, index, count, group, samples), threshold: spec.threshold, ...labels },
          samples,
        });
      };
      if (groups.length === 0)
        consider(
          {},
          res.hits.total.value,
          '',
          res.hits.hits.map((h) => formatSample(h._source ?? {})),
        );
      else
        walkGroups(res.aggregations, groups, (labels, b, group) =>
          consider(labels, b.doc_count, group, bucketHits(b).map(formatSample)),
        );
    });
    if (ends.length > 1)
      ctx.logger.info(
        { windows: ends.length, from: iso(ends[ends.length - 1]! - w.window) },
        'log_frequency caught up over several windows',
      );
    return evaluationOk(
      [...best.values()].map(({ count: _c, ...f }) => f),
      w,
    );
  },
});

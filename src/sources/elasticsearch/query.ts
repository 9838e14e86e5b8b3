import { z } from 'zod';
import { zDuration } from '../../config/zod-types.js';
import type { EvalContext, Evaluation, Labels, Values } from '../../rules/rule-type.js';
import type { ElasticsearchSource } from './client.js';
import type { SearchItem, SearchOutcome, SearchResponseLike } from './msearch-batcher.js';
import { excerpt } from '../../util/text.js';

/** When the line was written (display, event-time windows). */
export const TIMESTAMP = '@timestamp';
/**
 * When the line reached Elasticsearch, set by the ingest pipelines from `_ingest.timestamp`.
 * Windows that must see every line exactly once run on it: a line shipped late (Filebeat's backlog
 * after an outage) carries an old @timestamp, which a cursor on @timestamp has already passed.
 */
export const INGESTED = 'event.ingested';
export const DEFAULT_WINDOW_MS = 5 * 60_000;

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const oneField = <T extends z.ZodType>(v: T) =>
  z.record(z.string().min(1), v).refine((r) => Object.keys(r).length === 1, {
    message: 'expected exactly one field, e.g. {term: {log.level: ERROR}}',
  });
const bound = z.union([z.string(), z.number()]);

/** Structured filters, written like the Query DSL clause they become. */
export const zLogFilter = z
  .union([
    z.strictObject({ term: oneField(scalar) }),
    z.strictObject({ terms: oneField(z.array(scalar).min(1)) }),
    z.strictObject({
      range: oneField(
        z.strictObject({ gt: bound.optional(), gte: bound.optional(), lt: bound.optional(), lte: bound.optional() }),
      ),
    }),
    z.strictObject({ exists: z.string().min(1) }),
  ])
  .meta({
    description: '{term: {field: value}} | {terms: {field: [v…]}} | {range: {field: {gte, lt…}}} | {exists: field}',
  });
export type LogFilter = z.infer<typeof zLogFilter>;

const zGroupBy = z
  .array(
    z.union([
      z.string().min(1),
      z.strictObject({
        field: z.string().min(1),
        label: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'label names must match [a-zA-Z_][a-zA-Z0-9_]*'),
      }),
    ]),
  )
  .min(1)
  .max(3);

/** Fields every log rule has. */
export const logCommonShape = {
  index: z.string().min(1).optional().meta({
    description:
      'odoo | patroni | postgresql (the indices named in sources.elasticsearch.indices), or an index pattern. Default odoo.',
  }),
  query: z.string().min(1).optional().meta({
    description:
      'Lucene query string (Elasticsearch query_string syntax), e.g. log.level:(ERROR OR CRITICAL) AND NOT log.logger:werkzeug',
  }),
  filters: z.array(zLogFilter).optional().meta({ description: 'Structured filters, all must match.' }),
  exclude: z.array(zLogFilter).optional().meta({ description: 'Structured filters, none may match (e.g. noise).' }),
  window: zDuration({ min: 1000 }).optional().meta({ description: 'How far back a rule counts (default 5m).' }),
  ingest_delay: zDuration()
    .optional()
    .meta({ description: 'Overrides sources.elasticsearch.ingest_delay for this rule.' }),
  group_by: zGroupBy.optional().meta({
    description:
      'Fields to split by (each value is its own alert), e.g. [odoo.db, host.name]. Label = field with dots as "_" (host.name → host_name) unless {field, label}.',
  }),
  group_limit: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .meta({ description: 'At most this many groups per field (default 50).' }),
  samples: z.number().int().min(0).max(20).optional().meta({ description: 'Sample lines per alert (default 3).' }),
};
export interface LogCommonSpec {
  index?: string | undefined;
  query?: string | undefined;
  filters?: LogFilter[] | undefined;
  exclude?: LogFilter[] | undefined;
  window?: number | undefined;
  ingest_delay?: number | undefined;
  group_by?: (string | { field: string; label: string })[] | undefined;
  group_limit?: number | undefined;
  samples?: number | undefined;
}

/** Placeholders every log rule offers (group labels of the usual group_by fields included). */
export const LOG_PLACEHOLDERS: Record<string, string> = {
  count: 'matching log lines in the evaluated window',
  window: 'the window, e.g. 5m',
  from: 'window start (ISO time)',
  to: 'window end (ISO time)',
  index: 'the index pattern queried',
  group: 'the group_by values, e.g. "odoo.db=prod host.name=odoo1" (empty without group_by)',
  odoo_db: 'group label when grouped by odoo.db',
  host_name: 'group label when grouped by host.name',
  source_ip: 'group label when grouped by source.ip',
  patroni_member: 'group label when grouped by patroni.member',
  error_type: 'group label when grouped by error.type',
  log_logger: 'group label when grouped by log.logger',
  sample: 'the newest sample line',
};

/** Load-time check: a log rule without an Elasticsearch source is an error, not a silent no-op. */
export function checkLogRule(_spec: unknown, config: unknown): { field?: string; message: string }[] {
  // An invalid config is reported on its own; do not repeat it on every rule.
  if (config === undefined || config === null) return [];
  const es = (config as { sources?: { elasticsearch?: unknown } }).sources?.elasticsearch;
  if (es) return [];
  return [
    {
      field: 'type',
      message:
        'log rules need sources.elasticsearch in the config (expected nodes: [${ELASTICSEARCH_URL}]; or drop this rule file from rules.paths)',
    },
  ];
}

export function groupFields(spec: LogCommonSpec): { field: string; label: string }[] {
  return (spec.group_by ?? []).map((g) =>
    typeof g === 'string' ? { field: g, label: g.replace(/[^A-Za-z0-9_]/g, '_') } : g,
  );
}

function toClause(f: LogFilter): Record<string, unknown> {
  if ('exists' in f) return { exists: { field: f.exists } };
  return f as Record<string, unknown>;
}

/**
 * Which clock a window runs on: `arrival` (event.ingested; each line in exactly one slice however
 * late it was shipped) or `event` (@timestamp; rates and orderings of when things happened).
 */
export type TimeBasis = 'arrival' | 'event';

/** The bool query: time range + query string + structured filters − exclusions. */
export function buildQuery(
  spec: LogCommonSpec,
  range: { gte: number; lt: number; on: TimeBasis },
  extra: Record<string, unknown>[] = [],
): Record<string, unknown> {
  const filter: Record<string, unknown>[] = [timeClause(range.gte, range.lt, range.on)];
  if (spec.query) filter.push({ query_string: { query: spec.query, default_operator: 'AND' } });
  for (const f of spec.filters ?? []) filter.push(toClause(f));
  filter.push(...extra);
  const mustNot = (spec.exclude ?? []).map(toClause);
  return { bool: { filter, ...(mustNot.length ? { must_not: mustNot } : {}) } };
}

export function rangeClause(gte: number, lt: number, field = TIMESTAMP): Record<string, unknown> {
  return { range: { [field]: { gte: iso(gte), lt: iso(lt), format: 'strict_date_optional_time' } } };
}

/**
 * `[gte, lt)` on the chosen clock. Arrival falls back to @timestamp for documents without
 * event.ingested (indexed before the pipelines set it): each document still has exactly one
 * arrival time, so consecutive slices still count it once.
 */
export function timeClause(gte: number, lt: number, on: TimeBasis): Record<string, unknown> {
  if (on === 'event') return rangeClause(gte, lt);
  return {
    bool: {
      should: [
        rangeClause(gte, lt, INGESTED),
        { bool: { must_not: [{ exists: { field: INGESTED } }], filter: [rangeClause(gte, lt)] } },
      ],
      minimum_should_match: 1,
    },
  };
}

export const iso = (ms: number): string => new Date(ms).toISOString();

/** Fields fetched for sample lines (large fields such as error.stack_trace stay on the server). */
export function sampleSourceFields(spec: LogCommonSpec, more: string[] = []): string[] {
  return [
    ...new Set([
      TIMESTAMP,
      'host.name',
      'odoo.db',
      'patroni.member',
      'log.level',
      'log.logger',
      'message',
      'error.type',
      ...groupFields(spec).map((g) => g.field),
      ...more,
    ]),
  ];
}

export function topHitsAgg(spec: LogCommonSpec, size: number): Record<string, unknown> {
  return { top_hits: { size, sort: [{ [TIMESTAMP]: { order: 'desc' } }], _source: sampleSourceFields(spec) } };
}

// ---------------------------------------------------------------- window math

export interface LogCursor {
  /** Exclusive end of the last evaluated window (epoch ms): the next window starts here. */
  end: number;
  /**
   * Evaluations stopped between the previous end and this point (Elasticsearch unreachable, or
   * this service down): lines that should have arrived then may not have. Windows reaching back
   * before it cannot tell "nothing was logged" from "nothing could be shipped".
   */
  blindUntil?: number;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export function parseCursor(c: unknown): LogCursor | undefined {
  if (!c || typeof c !== 'object') return undefined;
  const { end, blindUntil } = c as { end?: unknown; blindUntil?: unknown };
  if (!finite(end)) return undefined;
  return { end, ...(finite(blindUntil) ? { blindUntil } : {}) };
}

export interface TimeWindow {
  /** Start of the new slice: the previous end (resumed), or end − window on the first run. */
  start: number;
  /** Exclusive end: now − ingest delay. */
  end: number;
  window: number;
  resumed: boolean;
  /** Events skipped because the gap exceeded max_catch_up (ms; 0 normally). */
  skippedMs: number;
  /** test-rule --since: no cursor read, none written. */
  adhoc: boolean;
  /** See LogCursor.blindUntil; set while a window ending at `end` still reaches back before it. */
  blindUntil?: number;
  /** now − ingest_delay is before the committed cursor by this much (the clock stepped back). */
  behindMs: number;
}

/**
 * `[start, end)` with end = now − ingest_delay. Consecutive evaluations are contiguous (start = the
 * previous end, committed with the alert state), so a document is in exactly one slice; without a
 * cursor the first slice is one window long; after long downtime the gap is capped at max_catch_up.
 * The cursor never moves backwards: when the clock steps back, `behindMs` > 0 and the rule holds.
 * A gap between evaluations longer than 1.5 ticks (or, without `every`, one window) marks the
 * span up to `end` as blind (see LogCursor.blindUntil).
 */
export function timeWindow(
  spec: LogCommonSpec,
  ctx: EvalContext,
  es: ElasticsearchSource,
  everyMs?: number,
): TimeWindow {
  const delay = spec.ingest_delay ?? es.ingestDelayMs;
  const end = ctx.now.getTime() - delay;
  const adhoc = ctx.lookbackMs !== undefined;
  const window = ctx.lookbackMs ?? spec.window ?? DEFAULT_WINDOW_MS;
  const cursor = adhoc ? undefined : parseCursor(ctx.cursor);
  if (!cursor) return { start: end - window, end, window, resumed: false, skippedMs: 0, adhoc, behindMs: 0 };
  if (end < cursor.end)
    return {
      start: cursor.end,
      end: cursor.end,
      window,
      resumed: true,
      skippedMs: 0,
      adhoc,
      behindMs: cursor.end - end,
      ...(cursor.blindUntil !== undefined ? { blindUntil: cursor.blindUntil } : {}),
    };
  let start = cursor.end;
  const gapped = end - start > (everyMs !== undefined ? 1.5 * everyMs : window);
  const blindUntil = gapped ? end : cursor.blindUntil;
  let skippedMs = 0;
  if (end - start > es.maxCatchUpMs) {
    skippedMs = end - es.maxCatchUpMs - start;
    start = end - es.maxCatchUpMs;
    ctx.logger.warn({ skippedMs }, 'log rule was behind more than max_catch_up; older events skipped');
  }
  return {
    start,
    end,
    window,
    resumed: true,
    skippedMs,
    adhoc,
    behindMs: 0,
    ...(blindUntil !== undefined && end - window < blindUntil ? { blindUntil } : {}),
  };
}

function cursorOf(w: TimeWindow): LogCursor {
  return { end: w.end, ...(w.blindUntil !== undefined ? { blindUntil: w.blindUntil } : {}) };
}

export function evaluationOk(findings: import('../../rules/rule-type.js').Finding[], w: TimeWindow): Evaluation {
  return w.adhoc ? { ok: true, findings } : { ok: true, findings, cursor: cursorOf(w) };
}

/**
 * Findings that would say "too few lines" while the window reaches back into a blind span: that is
 * unknown (the lines may not have been shippable), so the rule's alerts stay frozen; the cursor
 * still advances, so the blind span ends one window after evaluations resumed.
 */
export function blindEvaluation(w: TimeWindow, what: string): Evaluation {
  return {
    ok: false,
    source: 'elasticsearch',
    error: `${what} unknown until ${iso(w.blindUntil! + w.window)}: the window reaches back to ${iso(w.blindUntil!)}, before which this rule could not evaluate (Elasticsearch unreachable or the watcher down), so missing lines may be late, not absent`,
    ...(w.adhoc ? {} : { cursor: cursorOf(w) }),
  };
}

// ---------------------------------------------------------------- running searches

export interface LogRun {
  es: ElasticsearchSource;
  w: TimeWindow;
  /** The concrete index pattern (a named index from config, `odoo` by default). */
  index: string;
}

export const notConfigured: Evaluation = {
  ok: false,
  source: 'elasticsearch',
  error: 'sources.elasticsearch is not configured',
};

/**
 * What every log rule starts from: the source, its time window and index; or the evaluation to
 * return at once (Elasticsearch not configured; the clock stepped back behind the cursor, which
 * would count lines twice or resolve on an empty slice, so alerts hold until time catches up).
 */
export function startLogRun(
  spec: LogCommonSpec,
  ctx: EvalContext,
  o: { everyMs?: number | undefined; slices?: boolean } = {},
): LogRun | Evaluation {
  const es = ctx.sources.elasticsearch;
  if (!es) return notConfigured;
  const w = timeWindow(spec, ctx, es, o.everyMs);
  // Slice rules (each line once) have nothing to look at in an empty slice: resolving on it would
  // be a guess, so the same point in time twice holds too.
  if (w.behindMs > 0 || (o.slices && w.resumed && w.end <= w.start && !w.adhoc)) {
    const why =
      w.behindMs > 0
        ? `clock stepped back ${fmtWindow(w.behindMs)}: now − ingest_delay is before`
        : 'no time has passed since';
    return {
      ok: false,
      source: 'elasticsearch',
      error: `${why} the last evaluated point ${iso(w.end)}; alerts hold until the clock passes it`,
    };
  }
  return { es, w, index: es.index(spec.index ?? 'odoo') };
}

export const isEvaluation = (r: LogRun | Evaluation): r is Evaluation => 'ok' in r;

export function failedEvaluation(o: Extract<SearchOutcome, { ok: false }>): Evaluation {
  return { ok: false, source: 'elasticsearch', error: `${o.error.kind}: ${o.error.message}` };
}

/** Runs searches through the batcher (in parallel, so they share one _msearch). */
export async function searchAll(
  es: ElasticsearchSource,
  items: SearchItem[],
  ctx: EvalContext,
): Promise<{ ok: true; responses: SearchResponseLike[] } | Extract<SearchOutcome, { ok: false }>> {
  const outcomes = await Promise.all(items.map((i) => es.search(i, ctx.signal)));
  const bad = outcomes.find((o): o is Extract<SearchOutcome, { ok: false }> => !o.ok);
  if (bad) return bad;
  return { ok: true, responses: outcomes.map((o) => (o as Extract<SearchOutcome, { ok: true }>).response) };
}

// ---------------------------------------------------------------- groups and samples

export interface Bucket {
  key: unknown;
  key_as_string?: string;
  doc_count: number;
  [sub: string]: unknown;
}

/** Lines without the group_by field (e.g. Odoo lines with db "?") are counted under this value, not dropped. */
export const MISSING_GROUP = '(none)';

/** Nested terms aggregations, one level per group_by field; `leaf` goes into the innermost. */
export function groupAggs(
  groups: { field: string }[],
  limit: number,
  leaf: Record<string, unknown>,
  minDocCount = 1,
): Record<string, unknown> {
  let aggs: Record<string, unknown> = leaf;
  for (let i = groups.length - 1; i >= 0; i--) {
    aggs = {
      [`g${i}`]: {
        terms: { field: groups[i]!.field, size: limit, min_doc_count: minDocCount, missing: MISSING_GROUP },
        ...(Object.keys(aggs).length ? { aggs } : {}),
      },
    };
  }
  return aggs;
}

/** Walks the nested group buckets, calling back once per innermost bucket with its labels. */
export function walkGroups(
  aggs: Record<string, unknown> | undefined,
  groups: { field: string; label: string }[],
  cb: (labels: Labels, bucket: Bucket, group: string) => void,
): void {
  const walk = (node: Record<string, unknown> | undefined, depth: number, labels: Labels, desc: string[]): void => {
    if (depth === groups.length) {
      cb(labels, node as Bucket, desc.join(' '));
      return;
    }
    const agg = node?.[`g${depth}`] as { buckets?: Bucket[] } | undefined;
    for (const b of agg?.buckets ?? []) {
      const v = b.key_as_string ?? String(b.key);
      const g = groups[depth]!;
      walk(b as unknown as Record<string, unknown>, depth + 1, { ...labels, [g.label]: v }, [
        ...desc,
        `${g.field}=${v}`,
      ]);
    }
  };
  walk(aggs, 0, {}, []);
}

export function bucketHits(b: Bucket | undefined, name = 'samples'): Record<string, unknown>[] {
  const h = (b?.[name] as { hits?: { hits?: { _source?: Record<string, unknown> }[] } } | undefined)?.hits?.hits ?? [];
  return h.map((x) => x._source ?? {});
}

export function field(src: Record<string, unknown>, path: string): unknown {
  if (path in src) return src[path];
  const parts = path.split('.');
  for (let k = parts.length - 1; k >= 1; k--) {
    const head = parts.slice(0, k).join('.');
    const v = src[head];
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const r = field(v as Record<string, unknown>, parts.slice(k).join('.'));
      if (r !== undefined) return r;
    }
  }
  return undefined;
}

const str = (v: unknown): string | undefined =>
  v === undefined || v === null ? undefined : Array.isArray(v) ? v.map(String).join(',') : String(v);

/**
 * "2025-01-10T09:13:40.003Z odoo1 [prod] ERROR odoo.sql_db: bad query: …" (first line, 300 chars,
 * control characters made visible so an ESC sequence in a log line cannot rewrite a terminal).
 */
export function formatSample(src: Record<string, unknown>): string {
  const host = str(field(src, 'host.name')) ?? '?';
  const db = str(field(src, 'odoo.db')) ?? str(field(src, 'patroni.member'));
  const level = str(field(src, 'log.level'));
  const logger = str(field(src, 'log.logger'));
  const msg = (str(field(src, 'message')) ?? '').split('\n')[0]!;
  const line = [
    str(field(src, TIMESTAMP)) ?? '?',
    host,
    db ? `[${db}]` : undefined,
    level,
    logger ? `${logger}:` : undefined,
    msg,
  ]
    .filter(Boolean)
    .join(' ');
  return excerpt(line, 300);
}

export function windowValues(w: TimeWindow, index: string, count: number, group: string, samples: string[]): Values {
  return {
    count,
    window: fmtWindow(w.window),
    from: iso(w.start),
    to: iso(w.end),
    index,
    group,
    sample: samples[0] ?? '',
  };
}

export function fmtWindow(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ];
  for (const [size, u] of units) if (ms >= size && ms % size === 0) return `${ms / size}${u}`;
  return `${Math.round(ms / 1000)}s`;
}

import { z } from 'zod';
import { zDuration } from '../../config/zod-types.js';
import { defineRuleType, v, type Finding } from '../rule-type.js';
import {
  LOG_PLACEHOLDERS,
  buildQuery,
  checkLogRule,
  evaluationOk,
  failedEvaluation,
  field,
  formatSample,
  iso,
  isEvaluation,
  logCommonShape,
  searchAll,
  startLogRun,
  TIMESTAMP,
} from '../../sources/elasticsearch/query.js';

/**
 * Cron start/finish wording across Odoo versions (ir_cron.py), for lines the ingest pipeline did not
 * tag. Names and ids are bounded: an unbounded lazy `(.+?)\1` retries from every "Job '" of a
 * 200 kB line to its end (quadratic: seconds per line), a bounded one costs at most 256 steps each.
 */
const START_RES = [/Starting job `([^`\n]{1,256})`/, /Job (['"])([^\n]{1,256}?)\1 \((\d{1,12})\) starting/];
const FINISH_RES = [
  /Job `([^`\n]{1,256})` done/,
  /Job done: `([^`\n]{1,256})`/,
  /Job (['"])([^\n]{1,256}?)\1 \((\d{1,12})\) (?:done in|fully done|partially done|failed|timed out)/,
];

export type CronEvent = { kind: 'start' | 'finish'; name: string; id?: string };

/** Classifies one ir_cron line: the pipeline's odoo.event/odoo.cron.name first, else the message wording. */
export function classifyCronLine(src: Record<string, unknown>): CronEvent | undefined {
  const ev = field(src, 'odoo.event');
  const msg = String(field(src, 'message') ?? '');
  const fromMsg = (res: RegExp[]): { name: string; id?: string } | undefined => {
    for (const re of res) {
      const m = re.exec(msg);
      if (!m) continue;
      return m.length > 3 ? { name: m[2]!, id: m[3]! } : { name: m[1]! };
    }
    return undefined;
  };
  const kind = ev === 'cron_started' ? 'start' : ev === 'cron_finished' || ev === 'cron_failed' ? 'finish' : undefined;
  const parsedStart = fromMsg(START_RES);
  const parsedFinish = parsedStart ? undefined : fromMsg(FINISH_RES);
  const k = kind ?? (parsedStart ? 'start' : parsedFinish ? 'finish' : undefined);
  if (!k) return undefined;
  const parsed = parsedStart ?? parsedFinish;
  const name = field(src, 'odoo.cron.name') ?? parsed?.name;
  if (name === undefined) return undefined;
  const id = field(src, 'odoo.cron.id') ?? parsed?.id;
  return { kind: k, name: String(name), ...(id !== undefined ? { id: String(id) } : {}) };
}

interface OpenRun {
  host: string;
  at: number;
  line: string;
}

/**
 * The same ir_cron job (per database) started on two hosts with no finish in between. Odoo locks a
 * job row while it runs, so on one primary this cannot happen: it means two writable primaries
 * (split brain) or a lock that did not hold. Reads every start/finish line of the window in time
 * order and keeps, per (db, job), the open run of each host; a start while another host's run is
 * open (and younger than max_run, so a crashed run is not open forever) is an overlap.
 */
export const logCronOverlapRule = defineRuleType({
  type: 'log_cron_overlap',
  summary:
    'The same Odoo ir_cron job started on two hosts without a finish in between (duplicate cron: split brain or lock failure).',
  source: 'elasticsearch',
  shape: {
    ...logCommonShape,
    max_run: zDuration({ min: 1000 })
      .optional()
      .meta({ description: 'A run without a finish line is considered dead after this (default: the window).' }),
    max_events: z.number().int().min(10).max(10_000).optional().meta({
      description: 'Cron start/finish lines read per evaluation (default 5000); more is an error, not a silent cut.',
    }),
  },
  placeholders: {
    ...LOG_PLACEHOLDERS,
    cron: 'the cron job name',
    hosts: 'the hosts that ran it concurrently',
    first_start: 'start on the first host',
    second_start: 'start on the second host',
    overlaps: 'overlapping starts in the window',
  },
  defaultMessage: 'cron "{{cron}}" on db {{odoo_db}} ran concurrently on {{hosts}} ({{overlaps}}x in {{window}})',
  recovered: (vars) => `cron "${v(vars, 'cron')}" no longer runs concurrently (last overlap at ${v(vars, 'last_at')})`,
  check(spec, config) {
    const out = checkLogRule(spec, config);
    if (spec.group_by)
      out.push({
        field: 'group_by',
        message: 'log_cron_overlap always groups by (odoo.db, cron name); group_by is not supported here',
      });
    return out;
  },
  async evaluate(rule, ctx) {
    const spec = rule.spec;
    const run = startLogRun({ ...spec, window: spec.window ?? 3_600_000 }, ctx, { everyMs: rule.every });
    if (isEvaluation(run)) return run;
    const { es, w, index } = run;
    const { end, window } = w;
    const maxRun = spec.max_run ?? window;
    const size = spec.max_events ?? 5000;
    const cronLines = {
      bool: {
        should: [
          { terms: { 'odoo.event': ['cron_started', 'cron_finished', 'cron_failed'] } },
          {
            bool: {
              filter: [{ query_string: { query: 'log.logger:*ir_cron' } }],
              should: [
                { match_phrase: { message: 'Starting job' } },
                { match: { message: 'starting' } },
                { match: { message: 'done' } },
                { match: { message: 'failed' } },
                { match_phrase: { message: 'timed out' } },
              ],
              minimum_should_match: 1,
            },
          },
        ],
        minimum_should_match: 1,
      },
    };
    const body = {
      // Event time: overlap is about when runs happened. The window is re-read every tick, so a
      // line shipped late but written within the window is still seen.
      query: buildQuery(spec, { gte: end - window, lt: end, on: 'event' }, [cronLines]),
      track_total_hits: true,
      size,
      sort: [{ [TIMESTAMP]: { order: 'asc' } }],
      _source: [
        TIMESTAMP,
        'host.name',
        'odoo.db',
        'odoo.event',
        'odoo.cron.name',
        'odoo.cron.id',
        'process.pid',
        'log.level',
        'log.logger',
        'message',
      ],
    };
    const r = await searchAll(es, [{ index, body }], ctx);
    if (!r.ok) return failedEvaluation(r);
    const res = r.responses[0]!;
    if (res.hits.total.value > res.hits.hits.length) {
      return {
        ok: false,
        source: 'elasticsearch',
        error: `query_failed: ${res.hits.total.value} cron lines in ${window / 60_000}m exceed max_events ${size} (shorten window or raise max_events)`,
      };
    }
    const open = new Map<string, Map<string, OpenRun>>();
    const found = new Map<string, { db: string; cron: string; overlaps: number; first: OpenRun; second: OpenRun }>();
    for (const h of res.hits.hits) {
      const src = h._source ?? {};
      const ev = classifyCronLine(src);
      if (!ev) continue;
      const at = Date.parse(String(field(src, TIMESTAMP)));
      const host = String(field(src, 'host.name') ?? '?');
      const db = String(field(src, 'odoo.db') ?? '?');
      const key = JSON.stringify([db, ev.name]);
      const runs = open.get(key) ?? new Map<string, OpenRun>();
      open.set(key, runs);
      if (ev.kind === 'finish') {
        runs.delete(host);
        continue;
      }
      const run: OpenRun = { host, at, line: formatSample(src) };
      for (const other of runs.values()) {
        if (other.host === host || at - other.at > maxRun) continue;
        const f = found.get(key);
        if (f) f.overlaps++;
        else found.set(key, { db, cron: ev.name, overlaps: 1, first: other, second: run });
      }
      runs.set(host, run);
    }
    const findings: Finding[] = [...found.values()].map((f) => ({
      labels: { odoo_db: f.db, cron: f.cron },
      values: {
        count: f.overlaps,
        overlaps: f.overlaps,
        window: `${Math.round(window / 60_000)}m`,
        from: iso(end - window),
        to: iso(end),
        index,
        group: `odoo.db=${f.db} cron=${f.cron}`,
        odoo_db: f.db,
        cron: f.cron,
        hosts: `${f.first.host}, ${f.second.host}`,
        first_start: iso(f.first.at),
        second_start: iso(f.second.at),
        sample: f.second.line,
      },
      samples: [f.first.line, f.second.line],
    }));
    return evaluationOk(findings, w);
  },
});

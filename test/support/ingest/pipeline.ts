// Runs an ingest pipeline body (the JSON sent to PUT _ingest/pipeline/<id>) against a document
// the way Elasticsearch would, for the processors listed in EMULATED. Unknown processors,
// unknown options, double-brace templates and out-of-subset conditions all throw: the point is
// that anything the shipped pipelines use is either emulated or rejected, never skipped.
import { compileGrok, type CompiledGrok } from './grok.js';
import { evaluateCondition } from './painless.js';
import { dateProcessorValue } from './java-date.js';

export type Doc = Record<string, unknown>;

export interface PipelineBody {
  description?: string;
  processors: ProcessorSpec[];
  on_failure?: ProcessorSpec[];
  version?: number;
  _meta?: Record<string, unknown>;
}

export type ProcessorSpec = Record<string, Record<string, unknown>>;

export interface RunResult {
  doc: Doc;
  /** Set when the pipeline-level on_failure handler ran. */
  failure?: { message: string; processorType: string; processorTag?: string };
}

const COMMON = ['if', 'tag', 'description', 'ignore_failure', 'on_failure'];
const OPTIONS: Readonly<Record<string, readonly string[]>> = {
  grok: ['field', 'patterns', 'pattern_definitions', 'ignore_missing', 'trace_match', 'ecs_compatibility'],
  date: ['field', 'formats', 'target_field', 'timezone', 'locale'],
  gsub: ['field', 'pattern', 'replacement', 'target_field', 'ignore_missing'],
  set: ['field', 'value', 'copy_from', 'override', 'ignore_empty_value'],
  remove: ['field', 'ignore_missing'],
  rename: ['field', 'target_field', 'ignore_missing'],
  trim: ['field', 'target_field', 'ignore_missing'],
  uppercase: ['field', 'target_field', 'ignore_missing'],
  lowercase: ['field', 'target_field', 'ignore_missing'],
  convert: ['field', 'type', 'target_field', 'ignore_missing'],
  append: ['field', 'value', 'allow_duplicates'],
};
export const EMULATED: readonly string[] = Object.keys(OPTIONS);

class ProcessorError extends Error {
  constructor(
    message: string,
    readonly processorType: string,
    readonly processorTag?: string,
  ) {
    super(message);
  }
}

// ---------- field access (IngestDocument semantics: dotted paths walk nested maps) ----------

function isMap(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function split(path: string): string[] {
  if (path === '' || path.split('.').some((p) => p === '')) throw new Error(`path cannot be null nor empty: [${path}]`);
  return path.split('.');
}

function lookup(root: Doc, path: string): { found: boolean; value: unknown } {
  let cur: unknown = root;
  for (const part of split(path)) {
    if (!isMap(cur) || !(part in cur)) return { found: false, value: undefined };
    cur = cur[part];
  }
  return { found: true, value: cur };
}

function getField(root: Doc, path: string): unknown {
  const r = lookup(root, path);
  if (!r.found) throw new Error(`field [${path.split('.').pop()}] not present as part of path [${path}]`);
  return r.value;
}

function setField(root: Doc, path: string, value: unknown): void {
  const parts = split(path);
  let cur: Doc = root;
  for (const part of parts.slice(0, -1)) {
    const next = cur[part];
    if (next === undefined || next === null) {
      const created: Doc = {};
      cur[part] = created;
      cur = created;
    } else if (isMap(next)) {
      cur = next;
    } else {
      throw new Error(
        `cannot set [${parts.at(-1)}] with parent object of type [${typeof next}] as part of path [${path}]`,
      );
    }
  }
  cur[parts.at(-1)!] = value;
}

function removeField(root: Doc, path: string): boolean {
  const parts = split(path);
  let cur: unknown = root;
  for (const part of parts.slice(0, -1)) {
    if (!isMap(cur)) return false;
    cur = cur[part];
  }
  if (!isMap(cur) || !(parts.at(-1)! in cur)) return false;
  delete cur[parts.at(-1)!];
  return true;
}

// ---------- mustache subset ----------

function render(template: string, doc: Doc, meta: Doc): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{{', i);
    if (open < 0) {
      out += template.slice(i);
      break;
    }
    out += template.slice(i, open);
    if (template[open + 2] !== '{') {
      // {{x}} escapes its output (JSON/HTML depending on context); only {{{x}}} is unambiguous.
      throw new Error(`template uses double braces (escaping not emulated, use {{{...}}}): ${template}`);
    }
    const close = template.indexOf('}}}', open);
    if (close < 0) throw new Error(`unterminated template: ${template}`);
    const name = template.slice(open + 3, close).trim();
    if (!/^[A-Za-z0-9_@.]+$/.test(name)) throw new Error(`unsupported mustache expression {{{${name}}}}`);
    const r = name.startsWith('_ingest.') ? lookup(meta, name.slice('_ingest.'.length)) : lookup(doc, name);
    if (r.found && r.value !== null && r.value !== undefined) {
      if (typeof r.value === 'object') throw new Error(`template {{{${name}}}} renders a map/list: not emulated`);
      out += String(r.value);
    }
    i = close + 3;
  }
  return out;
}

// ---------- processors ----------

const grokCache = new WeakMap<object, CompiledGrok[]>();

function grokPatterns(cfg: Record<string, unknown>): CompiledGrok[] {
  let list = grokCache.get(cfg);
  if (!list) {
    const patterns = cfg.patterns;
    if (!Array.isArray(patterns) || patterns.length === 0) throw new Error('grok: [patterns] must be a non-empty list');
    const defs = (cfg.pattern_definitions ?? {}) as Record<string, string>;
    list = patterns.map((p) => compileGrok(String(p), defs));
    grokCache.set(cfg, list);
  }
  return list;
}

function str(cfg: Record<string, unknown>, key: string, type: string): string {
  const v = cfg[key];
  if (typeof v !== 'string') throw new Error(`[${key}] required property is missing or not a string (${type})`);
  return v;
}

function readInput(
  doc: Doc,
  cfg: Record<string, unknown>,
  type: string,
): { skip: true } | { skip: false; value: unknown } {
  const field = str(cfg, 'field', type);
  const r = lookup(doc, field);
  if (!r.found || r.value === null) {
    if (cfg.ignore_missing === true) return { skip: true };
    if (!r.found) throw new Error(`field [${field.split('.').pop()}] not present as part of path [${field}]`);
    throw new Error(`field [${field}] is null, cannot process it.`);
  }
  return { skip: false, value: r.value };
}

function stringInput(doc: Doc, cfg: Record<string, unknown>, type: string): string | undefined {
  const r = readInput(doc, cfg, type);
  if (r.skip) return undefined;
  if (typeof r.value !== 'string') {
    throw new Error(`field [${String(cfg.field)}] of type [${typeof r.value}] cannot be cast to [java.lang.String]`);
  }
  return r.value;
}

function convertValue(v: unknown, type: string): unknown {
  const s = String(v).trim();
  switch (type) {
    case 'integer':
    case 'long':
      if (!/^[+-]?\d+$/.test(s)) throw new Error(`unable to convert [${String(v)}] to ${type}`);
      return Number(s);
    case 'float':
    case 'double':
      if (s === '' || Number.isNaN(Number(s))) throw new Error(`unable to convert [${String(v)}] to ${type}`);
      return Number(s);
    case 'string':
      return String(v);
    case 'boolean':
      if (s.toLowerCase() === 'true') return true;
      if (s.toLowerCase() === 'false') return false;
      throw new Error(`[${String(v)}] is not a boolean value, cannot convert to boolean`);
    default:
      throw new Error(`convert type [${type}] is not emulated`);
  }
}

function execute(type: string, cfg: Record<string, unknown>, doc: Doc, meta: Doc): void {
  switch (type) {
    case 'grok': {
      const value = stringInput(doc, cfg, type);
      if (value === undefined) return;
      const compiled = grokPatterns(cfg);
      for (const [idx, g] of compiled.entries()) {
        const captures = g.match(value);
        if (!captures) continue;
        for (const [field, v] of captures) setField(doc, field, v);
        if (cfg.trace_match === true) meta._grok_match_index = String(idx);
        return;
      }
      throw new Error(`Provided Grok expressions do not match field value: [${value}]`);
    }
    case 'date': {
      const value = stringInput(doc, cfg, type);
      if (value === undefined) throw new Error(`field [${String(cfg.field)}] is null`);
      if (cfg.locale !== undefined && cfg.locale !== 'ENGLISH')
        throw new Error('date: only the default locale is emulated');
      const formats = cfg.formats;
      if (!Array.isArray(formats) || formats.length === 0) throw new Error('date: [formats] required');
      const tzTemplate = typeof cfg.timezone === 'string' ? cfg.timezone : 'UTC';
      const tz = render(tzTemplate, doc, meta);
      const target = typeof cfg.target_field === 'string' ? cfg.target_field : '@timestamp';
      setField(doc, target, dateProcessorValue(value, formats.map(String), tz));
      return;
    }
    case 'gsub': {
      const value = stringInput(doc, cfg, type);
      if (value === undefined) return;
      const replacement = str(cfg, 'replacement', type);
      if (/[$\\]/.test(replacement)) throw new Error('gsub: $-groups/escapes in replacement are not emulated');
      // gsub uses java.util.regex, not Joni; for the plain classes used here JS RegExp agrees.
      const re = new RegExp(str(cfg, 'pattern', type), 'g');
      setField(
        doc,
        typeof cfg.target_field === 'string' ? cfg.target_field : String(cfg.field),
        value.replace(re, replacement),
      );
      return;
    }
    case 'set': {
      const field = str(cfg, 'field', type);
      if (field.includes('{{')) throw new Error('set: templated field names are not emulated');
      if ('value' in cfg === 'copy_from' in cfg)
        throw new Error('set: exactly one of [value] or [copy_from] is required');
      let value: unknown;
      if ('copy_from' in cfg) {
        value = structuredClone(getField(doc, str(cfg, 'copy_from', type)));
      } else {
        const raw = cfg.value;
        if (typeof raw === 'string') value = render(raw, doc, meta);
        else if (raw !== null && typeof raw === 'object') throw new Error('set: map/list values are not emulated');
        else value = raw;
      }
      if (cfg.ignore_empty_value === true && (value === null || value === '')) return;
      if (cfg.override === false) {
        const cur = lookup(doc, field);
        if (cur.found && cur.value !== null) return;
      }
      setField(doc, field, value);
      return;
    }
    case 'remove': {
      const fields = Array.isArray(cfg.field) ? cfg.field.map(String) : [str(cfg, 'field', type)];
      for (const f of fields) {
        if (!removeField(doc, f) && cfg.ignore_missing !== true) {
          throw new Error(`field [${f.split('.').pop()}] not present as part of path [${f}]`);
        }
      }
      return;
    }
    case 'rename': {
      const r = readInput(doc, cfg, type);
      if (r.skip) return;
      const target = str(cfg, 'target_field', type);
      if (lookup(doc, target).found) throw new Error(`field [${target}] already exists`);
      removeField(doc, String(cfg.field));
      setField(doc, target, r.value);
      return;
    }
    case 'trim':
    case 'uppercase':
    case 'lowercase': {
      const value = stringInput(doc, cfg, type);
      if (value === undefined) return;
      // String.trim() in Java strips chars <= U+0020; JS trim also strips Unicode spaces.
      const out =
        type === 'trim'
          ? value.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '')
          : type === 'uppercase'
            ? value.toUpperCase()
            : value.toLowerCase();
      setField(doc, typeof cfg.target_field === 'string' ? cfg.target_field : String(cfg.field), out);
      return;
    }
    case 'convert': {
      const r = readInput(doc, cfg, type);
      if (r.skip) return;
      const t = str(cfg, 'type', type);
      const out = Array.isArray(r.value) ? r.value.map((x) => convertValue(x, t)) : convertValue(r.value, t);
      setField(doc, typeof cfg.target_field === 'string' ? cfg.target_field : String(cfg.field), out);
      return;
    }
    case 'append': {
      const field = str(cfg, 'field', type);
      const raw = Array.isArray(cfg.value) ? cfg.value : [cfg.value];
      const values = raw.map((v) => (typeof v === 'string' ? render(v, doc, meta) : v));
      const cur = lookup(doc, field);
      const list: unknown[] =
        !cur.found || cur.value === null ? [] : Array.isArray(cur.value) ? cur.value : [cur.value];
      for (const v of values) {
        if (cfg.allow_duplicates === false && list.includes(v)) continue;
        list.push(v);
      }
      setField(doc, field, list);
      return;
    }
    default:
      throw new Error(`processor [${type}] is not emulated`);
  }
}

function unpack(spec: ProcessorSpec): [string, Record<string, unknown>] {
  const keys = Object.keys(spec);
  if (keys.length !== 1) throw new Error(`a processor object must have exactly one key, got ${JSON.stringify(keys)}`);
  const type = keys[0]!;
  const cfg = spec[type]!;
  const allowed = OPTIONS[type];
  if (!allowed) throw new Error(`processor [${type}] is not emulated (allowed: ${EMULATED.join(', ')})`);
  const extra = Object.keys(cfg).filter((k) => !allowed.includes(k) && !COMMON.includes(k));
  if (extra.length > 0) {
    throw new Error(
      `processor [${type}] doesn't support one or more provided configuration parameters ${JSON.stringify(extra)}`,
    );
  }
  return [type, cfg];
}

function runList(list: readonly ProcessorSpec[], doc: Doc, meta: Doc): void {
  for (const spec of list) {
    const [type, cfg] = unpack(spec);
    const tag = typeof cfg.tag === 'string' ? cfg.tag : undefined;
    if (typeof cfg.if === 'string' && !evaluateCondition(cfg.if, doc)) continue;
    try {
      execute(type, cfg, doc, meta);
    } catch (err) {
      if (cfg.ignore_failure === true) continue;
      const message = err instanceof ProcessorError ? err.message : (err as Error).message;
      if (Array.isArray(cfg.on_failure) && cfg.on_failure.length > 0) {
        const saved = { ...meta };
        Object.assign(meta, {
          on_failure_message: message,
          on_failure_processor_type: type,
          on_failure_processor_tag: tag,
        });
        runList(cfg.on_failure as ProcessorSpec[], doc, meta);
        for (const k of Object.keys(meta)) delete meta[k];
        Object.assign(meta, saved);
        continue;
      }
      if (err instanceof ProcessorError) throw err;
      throw new ProcessorError(message, type, tag);
    }
  }
}

/** Static checks ES performs at PUT time (unknown processors/options) plus emulator coverage. */
export function validatePipeline(body: PipelineBody): void {
  const walk = (list: readonly ProcessorSpec[]): void => {
    for (const spec of list) {
      const [type, cfg] = unpack(spec);
      if (type === 'grok') grokPatterns(cfg);
      if (Array.isArray(cfg.on_failure)) walk(cfg.on_failure as ProcessorSpec[]);
    }
  };
  const extra = Object.keys(body).filter(
    (k) => !['description', 'processors', 'on_failure', 'version', '_meta'].includes(k),
  );
  if (extra.length > 0) throw new Error(`unknown pipeline keys ${JSON.stringify(extra)}`);
  walk(body.processors);
  walk(body.on_failure ?? []);
}

/**
 * Runs the pipeline; throws when ES would reject the document (failure without on_failure).
 * `_ingest.timestamp` is when the node received the document (ES renders it ISO-8601 in UTC).
 */
export function runPipeline(body: PipelineBody, input: Doc, o: { ingestTimestamp?: string } = {}): RunResult {
  const doc = structuredClone(input);
  const meta: Doc = { timestamp: o.ingestTimestamp ?? new Date().toISOString() };
  try {
    runList(body.processors, doc, meta);
    return { doc };
  } catch (err) {
    const pe = err instanceof ProcessorError ? err : new ProcessorError((err as Error).message, 'unknown');
    if (!body.on_failure || body.on_failure.length === 0) throw pe;
    Object.assign(meta, {
      on_failure_message: pe.message,
      on_failure_processor_type: pe.processorType,
      on_failure_processor_tag: pe.processorTag,
    });
    runList(body.on_failure, doc, meta);
    return { doc, failure: { message: pe.message, processorType: pe.processorType, processorTag: pe.processorTag } };
  }
}

export function collectConditions(body: PipelineBody): string[] {
  const out: string[] = [];
  const walk = (list: readonly ProcessorSpec[]): void => {
    for (const spec of list) {
      const [, cfg] = unpack(spec);
      if (typeof cfg.if === 'string') out.push(cfg.if);
      if (Array.isArray(cfg.on_failure)) walk(cfg.on_failure as ProcessorSpec[]);
    }
  };
  walk(body.processors);
  walk(body.on_failure ?? []);
  return out;
}

export { getField, lookup };

/**
 * A small, honest subset of the Elasticsearch search API evaluated over in-memory documents.
 *
 * Mapping model (mapping-free, but shaped like Filebeat/ECS data): every field is `keyword` (exact,
 * case-sensitive) except the `textFields` (default `message`), which are analysed text. `@timestamp`
 * and any range with a date-looking bound compare as dates. Anything outside the subset throws a 400
 * `DslError` shaped like the real parsing/illegal-argument errors rather than guessing an answer.
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = Record<string, unknown>;

export interface StoredDoc {
  _index: string;
  _id: string;
  _source: JsonObject;
  /** Insertion order; the `_doc` sort and the default tie-break. */
  seq: number;
}

export interface EngineContext {
  now: () => number;
  textFields: ReadonlySet<string>;
}

export class DslError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly reason: string,
    readonly extra: JsonObject = {},
  ) {
    super(`${type}: ${reason}`);
  }
}

const parsing = (reason: string): DslError => new DslError(400, 'parsing_exception', reason, { line: 1, col: 1 });
const illegal = (reason: string): DslError => new DslError(400, 'illegal_argument_exception', reason);

const isObj = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The single `{name: body}` pair of a query or aggregation clause. */
function single(clause: unknown, what: string): [string, unknown] {
  if (!isObj(clause))
    throw parsing(
      `[${what}] malformed query, expected [START_OBJECT] but found [${Array.isArray(clause) ? 'START_ARRAY' : 'VALUE'}]`,
    );
  const keys = Object.keys(clause);
  if (keys.length !== 1)
    throw parsing(`[${what}] malformed query, expected a single key but found [${keys.join(', ')}]`);
  return [keys[0]!, clause[keys[0]!]];
}

// ---------------------------------------------------------------- fields and values

/** Values of a dotted field, whether stored nested (`{log:{level}}`) or flat (`{'log.level'}`); arrays flattened. */
export function fieldValues(source: unknown, path: string): unknown[] {
  const out: unknown[] = [];
  const walk = (node: unknown, parts: string[]): void => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n, parts);
      return;
    }
    if (parts.length === 0) {
      if (node !== null && node !== undefined) out.push(node);
      return;
    }
    if (!isObj(node)) return;
    for (let k = parts.length; k >= 1; k--) {
      const key = parts.slice(0, k).join('.');
      if (key in node) walk(node[key], parts.slice(k));
    }
  };
  walk(source, path.split('.'));
  return out;
}

/** Every leaf field path of a document, for queries without a field (`query_string` default `*`). */
function leafPaths(source: unknown, prefix = ''): string[] {
  if (!isObj(source)) return prefix ? [prefix] : [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(source)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (isObj(v)) out.push(...leafPaths(v, p));
    else if (Array.isArray(v) && v.some(isObj)) for (const item of v) out.push(...leafPaths(item, p));
    else out.push(p);
  }
  return [...new Set(out)];
}

/** Roughly the standard analyzer: lowercase, split on non-word characters, keep inner dots/apostrophes (UAX#29). */
export function analyze(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}_.']+/u)
    .map((t) => t.replace(/^[.']+|[.']+$/g, ''))
    .filter((t) => t !== '');
}

const DATE_MATH = /^now((?:[+-]\d+[yMwdhHms])*)(?:\/([yMwdhHms]))?$/;
const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  H: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

function roundDate(ms: number, unit: string, up: boolean): number {
  const d = new Date(ms);
  switch (unit) {
    case 'y':
      d.setUTCMonth(0, 1);
      d.setUTCHours(0, 0, 0, 0);
      if (up) d.setUTCFullYear(d.getUTCFullYear() + 1);
      break;
    case 'M':
      d.setUTCDate(1);
      d.setUTCHours(0, 0, 0, 0);
      if (up) d.setUTCMonth(d.getUTCMonth() + 1);
      break;
    case 'w': {
      d.setUTCHours(0, 0, 0, 0);
      d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
      if (up) d.setUTCDate(d.getUTCDate() + 7);
      break;
    }
    default: {
      const size = UNIT_MS[unit]!;
      const down = Math.floor(ms / size) * size;
      return up ? down + size - 1 : down;
    }
  }
  return up ? d.getTime() - 1 : d.getTime();
}

/**
 * ISO strings, epoch millis (number or digit string) and `now±N<unit>[/unit]` date math.
 * `roundUp` follows ES: `gt`/`lte` round a `/unit` up to the end of the unit, `gte`/`lt` down.
 */
export function parseDate(v: unknown, now: number, roundUp = false, field = '@timestamp'): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    if (/^-?\d+$/.test(v)) return Number(v);
    const m = DATE_MATH.exec(v);
    if (m) {
      let t = now;
      for (const [, sign, n, unit] of (m[1] ?? '').matchAll(/([+-])(\d+)([yMwdhHms])/g)) {
        const k = Number(n) * (sign === '-' ? -1 : 1);
        if (unit === 'y') {
          const d = new Date(t);
          d.setUTCFullYear(d.getUTCFullYear() + k);
          t = d.getTime();
        } else if (unit === 'M') {
          const d = new Date(t);
          d.setUTCMonth(d.getUTCMonth() + k);
          t = d.getTime();
        } else t += k * UNIT_MS[unit!]!;
      }
      return m[2] ? roundDate(t, m[2], roundUp) : t;
    }
    if (/^\d{4}-\d{2}-\d{2}/.test(v) && !v.includes('||')) {
      // Odoo/Patroni write "2024-11-04 02:24:38,332" (space, comma fraction, no zone): read it as UTC.
      const norm = v.replace(' ', 'T').replace(/,(\d+)/, '.$1');
      const iso = norm.includes('T') && !/(Z|[+-]\d{2}:?\d{2})$/.test(norm) ? `${norm}Z` : norm;
      const t = Date.parse(iso);
      if (!Number.isNaN(t)) return t;
    }
  }
  throw new DslError(
    400,
    'parse_exception',
    `failed to parse date field [${String(v)}] with format [strict_date_optional_time||epoch_millis]`,
    { field },
  );
}

const isDateLike = (v: unknown): boolean =>
  typeof v === 'string' && (DATE_MATH.test(v) || /^\d{4}-\d{2}-\d{2}/.test(v));

// ---------------------------------------------------------------- queries

type Pred = (doc: StoredDoc) => boolean;

export function compileQuery(q: unknown, ctx: EngineContext): Pred {
  if (q === undefined) return () => true;
  const [kind, body] = single(q, 'query');
  switch (kind) {
    case 'match_all':
      return () => true;
    case 'match_none':
      return () => false;
    case 'bool':
      return compileBool(body, ctx);
    case 'term':
      return compileTerm(body, ctx);
    case 'terms':
      return compileTerms(body, ctx);
    case 'range':
      return compileRange(body, ctx);
    case 'exists': {
      if (!isObj(body) || typeof body['field'] !== 'string') throw parsing('[exists] must be provided with a [field]');
      const field = body['field'];
      return (d) => fieldValues(d._source, field).length > 0;
    }
    case 'match_phrase':
      return compileMatch(body, ctx, 'phrase');
    case 'match':
      return compileMatch(body, ctx, 'match');
    case 'query_string':
      return compileQueryString(body, ctx);
    case 'ids': {
      const values = isObj(body) && Array.isArray(body['values']) ? body['values'].map(String) : [];
      return (d) => values.includes(d._id);
    }
    default:
      throw parsing(`unknown query [${kind}]`);
  }
}

function clauses(v: unknown): unknown[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function compileBool(body: unknown, ctx: EngineContext): Pred {
  if (!isObj(body)) throw parsing('[bool] query malformed, no start_object after query name');
  for (const k of Object.keys(body)) {
    if (!['filter', 'must', 'must_not', 'should', 'minimum_should_match', 'boost', '_name'].includes(k)) {
      throw parsing(`[bool] query does not support [${k}]`);
    }
  }
  const must = [...clauses(body['must']), ...clauses(body['filter'])].map((c) => compileQuery(c, ctx));
  const mustNot = clauses(body['must_not']).map((c) => compileQuery(c, ctx));
  const should = clauses(body['should']).map((c) => compileQuery(c, ctx));
  let msm = should.length > 0 && must.length === 0 ? 1 : 0;
  const raw = body['minimum_should_match'];
  if (raw !== undefined) {
    const s = String(raw);
    if (/^-?\d+$/.test(s)) {
      const n = Number(s);
      msm = n < 0 ? Math.max(0, should.length + n) : n;
    } else if (/^-?\d+%$/.test(s)) {
      const pct = Number(s.slice(0, -1));
      const n = Math.floor((should.length * Math.abs(pct)) / 100);
      msm = pct < 0 ? should.length - n : n;
    } else {
      throw parsing(`[bool] unsupported minimum_should_match [${s}]`);
    }
  }
  return (d) => must.every((p) => p(d)) && !mustNot.some((p) => p(d)) && should.filter((p) => p(d)).length >= msm;
}

/** `{field: value}` or `{field: {value, ...}}`, returns [field, options]. */
function fieldClause(kind: string, body: unknown, allowed: string[], shorthandKey: string): [string, JsonObject] {
  if (!isObj(body)) throw parsing(`[${kind}] query malformed, no start_object after query name`);
  const fields = Object.keys(body).filter((k) => k !== 'boost' && k !== '_name');
  if (fields.length !== 1)
    throw parsing(`[${kind}] query doesn't support multiple fields, found [${fields.join('] and [')}]`);
  const field = fields[0]!;
  const v = body[field];
  const opts: JsonObject = isObj(v) ? v : { [shorthandKey]: v };
  for (const k of Object.keys(opts)) {
    if (![...allowed, 'boost', '_name'].includes(k)) throw parsing(`[${kind}] query does not support [${k}]`);
  }
  return [field, opts];
}

function isText(field: string, ctx: EngineContext): boolean {
  return ctx.textFields.has(field);
}

/** Exact (keyword/number/boolean) equality; numbers compare numerically, booleans accept "true". */
function exactEquals(docVal: unknown, q: unknown): boolean {
  if (typeof docVal === 'number') return Number(q) === docVal;
  if (typeof docVal === 'boolean') return String(q) === String(docVal);
  return typeof docVal === 'string' && String(q) === docVal;
}

function termMatches(doc: StoredDoc, field: string, q: unknown, ctx: EngineContext): boolean {
  const values = fieldValues(doc._source, field);
  // term on a text field compares the unanalysed query with indexed tokens, so "Error" never matches.
  if (isText(field, ctx)) return values.some((v) => analyze(String(v)).includes(String(q)));
  return values.some((v) => exactEquals(v, q));
}

function compileTerm(body: unknown, ctx: EngineContext): Pred {
  const [field, o] = fieldClause('term', body, ['value', 'case_insensitive'], 'value');
  if (o['value'] === undefined) throw parsing('[term] query requires a value');
  const ci = o['case_insensitive'] === true;
  const value = o['value'];
  if (ci) {
    const lower = String(value).toLowerCase();
    return (d) => fieldValues(d._source, field).some((v) => String(v).toLowerCase() === lower);
  }
  return (d) => termMatches(d, field, value, ctx);
}

function compileTerms(body: unknown, ctx: EngineContext): Pred {
  if (!isObj(body)) throw parsing('[terms] query malformed');
  const fields = Object.keys(body).filter((k) => k !== 'boost' && k !== '_name');
  if (fields.length !== 1) throw parsing(`[terms] query does not support multiple fields`);
  const field = fields[0]!;
  const values = body[field];
  if (!Array.isArray(values))
    throw parsing(`[terms] query does not support [${field}] as a lookup (only arrays of values)`);
  return (d) => values.some((q) => termMatches(d, field, q, ctx));
}

function compileRange(body: unknown, ctx: EngineContext): Pred {
  const [field, o] = fieldClause(
    'range',
    body,
    ['gte', 'gt', 'lte', 'lt', 'format', 'time_zone', 'relation'],
    '__invalid',
  );
  if ('__invalid' in o) throw parsing(`[range] query malformed, no start_object after query name`);
  const tz = o['time_zone'];
  if (tz !== undefined && !['UTC', 'Z', '+00:00', 'Etc/UTC'].includes(String(tz))) {
    throw parsing(`[range] time_zone [${String(tz)}] is not supported by the fake (only UTC)`);
  }
  const bounds = (['gte', 'gt', 'lte', 'lt'] as const).filter((k) => o[k] !== undefined && o[k] !== null);
  const asDate = field === '@timestamp' || o['format'] !== undefined || bounds.some((k) => isDateLike(o[k]));
  const now = ctx.now();
  const limit = (k: 'gte' | 'gt' | 'lte' | 'lt'): number =>
    asDate ? parseDate(o[k], now, k === 'gt' || k === 'lte', field) : Number(o[k]);
  const b = Object.fromEntries(bounds.map((k) => [k, limit(k)])) as Partial<
    Record<'gte' | 'gt' | 'lte' | 'lt', number>
  >;
  return (d) =>
    fieldValues(d._source, field).some((raw) => {
      let v: number;
      try {
        v = asDate ? parseDate(raw, now) : Number(raw);
      } catch {
        return false;
      }
      if (Number.isNaN(v)) return false;
      return (
        (b.gte === undefined || v >= b.gte) &&
        (b.gt === undefined || v > b.gt) &&
        (b.lte === undefined || v <= b.lte) &&
        (b.lt === undefined || v < b.lt)
      );
    });
}

function phraseIn(tokens: string[], phrase: string[]): boolean {
  if (phrase.length === 0) return false;
  outer: for (let i = 0; i + phrase.length <= tokens.length; i++) {
    for (let j = 0; j < phrase.length; j++) if (tokens[i + j] !== phrase[j]) continue outer;
    return true;
  }
  return false;
}

function textMatches(
  doc: StoredDoc,
  field: string,
  query: string,
  ctx: EngineContext,
  mode: 'phrase' | 'or' | 'and',
): boolean {
  const values = fieldValues(doc._source, field);
  // keyword fields use the keyword analyzer: the whole query must equal the whole value.
  if (!isText(field, ctx)) return values.some((v) => exactEquals(v, query));
  const q = analyze(query);
  return values.some((v) => {
    const t = analyze(String(v));
    if (mode === 'phrase') return phraseIn(t, q);
    return mode === 'and' ? q.every((x) => t.includes(x)) : q.some((x) => t.includes(x));
  });
}

function compileMatch(body: unknown, ctx: EngineContext, kind: 'phrase' | 'match'): Pred {
  const name = kind === 'phrase' ? 'match_phrase' : 'match';
  const allowed = kind === 'phrase' ? ['query'] : ['query', 'operator'];
  const [field, o] = fieldClause(name, body, allowed, 'query');
  const query = String(o['query'] ?? '');
  const op = String(o['operator'] ?? 'or').toLowerCase();
  const mode = kind === 'phrase' ? 'phrase' : op === 'and' ? 'and' : 'or';
  return (d) => textMatches(d, field, query, ctx, mode);
}

// ---------------------------------------------------------------- query_string

type QsNode =
  | { t: 'term'; field: string | null; value: string; phrase: boolean }
  | { t: 'not'; node: QsNode }
  | { t: 'and' | 'or'; nodes: QsNode[] };

type QsTok = { k: '(' | ')' | ':' | 'AND' | 'OR' | 'NOT' } | { k: 'word'; v: string } | { k: 'phrase'; v: string };

function lexQueryString(s: string): QsTok[] {
  const out: QsTok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ':') {
      out.push({ k: c });
      i++;
      continue;
    }
    if (c === '"') {
      let v = '';
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\') i++;
        v += s[i] ?? '';
        i++;
      }
      if (s[i] !== '"') throw parsing(`Cannot parse '${s}': Lexical error: unterminated phrase`);
      i++;
      out.push({ k: 'phrase', v });
      continue;
    }
    if (c === '&' && s[i + 1] === '&') {
      out.push({ k: 'AND' });
      i += 2;
      continue;
    }
    if (c === '|' && s[i + 1] === '|') {
      out.push({ k: 'OR' });
      i += 2;
      continue;
    }
    if (c === '!' || (c === '-' && (out.length === 0 || out[out.length - 1]!.k !== ':'))) {
      out.push({ k: 'NOT' });
      i++;
      continue;
    }
    if ('+[]{}<>~^/='.includes(c)) {
      throw parsing(
        `query_string syntax [${c}] is not supported by the fake (supported: field:value, field:(a OR b), "phrase", AND/OR/NOT, parentheses, * wildcards)`,
      );
    }
    let v = '';
    while (i < s.length && !/[\s():"]/.test(s[i]!)) {
      if (s[i] === '\\') {
        i++;
        v += s[i] ?? '';
        i++;
        continue;
      }
      v += s[i];
      i++;
    }
    if (v === 'AND' || v === 'OR' || v === 'NOT') out.push({ k: v });
    else out.push({ k: 'word', v });
  }
  return out;
}

function parseQueryString(s: string, defaultOp: 'and' | 'or'): QsNode {
  const toks = lexQueryString(s);
  let pos = 0;
  const peek = (): QsTok | undefined => toks[pos];

  // Lucene's classic parser gives AND/OR no real precedence; mixing them unparenthesised is rejected
  // here rather than evaluated with rules that would differ from the real server.
  const group = (field: string | null, closing: boolean): QsNode => {
    const nodes: QsNode[] = [];
    const ops = new Set<'and' | 'or'>();
    let pendingOp: 'and' | 'or' | null = null;
    while (pos < toks.length) {
      const t = peek()!;
      if (t.k === ')') {
        if (!closing) throw parsing(`Cannot parse '${s}': unbalanced ')'`);
        break;
      }
      if (t.k === 'AND' || t.k === 'OR') {
        if (nodes.length === 0 || pendingOp) throw parsing(`Cannot parse '${s}': Encountered " <${t.k}> "`);
        pendingOp = t.k === 'AND' ? 'and' : 'or';
        pos++;
        continue;
      }
      const negated = t.k === 'NOT';
      if (negated) pos++;
      const node = unary(field);
      if (nodes.length > 0) {
        // "a NOT b" means a AND NOT b whatever the default operator, as in Lucene.
        ops.add(pendingOp ?? (negated ? 'and' : defaultOp));
      }
      nodes.push(negated ? { t: 'not', node } : node);
      pendingOp = null;
    }
    if (pendingOp) throw parsing(`Cannot parse '${s}': Encountered "<EOF>"`);
    if (nodes.length === 0) throw parsing(`Cannot parse '${s}': empty expression`);
    if (ops.size > 1)
      throw parsing(`query_string mixing AND and OR without parentheses is not supported by the fake: '${s}'`);
    if (nodes.length === 1) return nodes[0]!;
    return { t: ops.has('and') ? 'and' : 'or', nodes };
  };

  const unary = (field: string | null): QsNode => {
    const t = toks[pos++];
    if (!t) throw parsing(`Cannot parse '${s}': Encountered "<EOF>"`);
    if (t.k === 'NOT') return { t: 'not', node: unary(field) };
    if (t.k === '(') {
      const inner = group(field, true);
      if (toks[pos++]?.k !== ')') throw parsing(`Cannot parse '${s}': missing ')'`);
      return inner;
    }
    if (t.k === 'phrase') return { t: 'term', field, value: t.v, phrase: true };
    if (t.k === 'word') {
      if (peek()?.k === ':') {
        if (field !== null) throw parsing(`Cannot parse '${s}': nested field [${t.v}] inside [${field}]`);
        pos++;
        return unary(t.v);
      }
      return { t: 'term', field, value: t.v, phrase: false };
    }
    throw parsing(`Cannot parse '${s}': Encountered " "${t.k}" "`);
  };

  const node = group(null, false);
  if (pos < toks.length) throw parsing(`Cannot parse '${s}': unbalanced ')'`);
  return node;
}

function wildcardRegex(v: string): RegExp {
  return new RegExp(
    `^${v
      .split('*')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    's',
  );
}

function compileQueryString(body: unknown, ctx: EngineContext): Pred {
  if (!isObj(body)) throw parsing('[query_string] malformed');
  const allowed = [
    'query',
    'default_field',
    'fields',
    'default_operator',
    'analyze_wildcard',
    'lenient',
    'allow_leading_wildcard',
    'boost',
    '_name',
  ];
  for (const k of Object.keys(body))
    if (!allowed.includes(k)) throw parsing(`[query_string] query does not support [${k}]`);
  if (typeof body['query'] !== 'string') throw parsing('[query_string] must be provided with a [query]');
  const op = String(body['default_operator'] ?? 'OR').toLowerCase() === 'and' ? 'and' : 'or';
  const defaults: string[] | null = Array.isArray(body['fields'])
    ? body['fields'].map(String)
    : typeof body['default_field'] === 'string' && body['default_field'] !== '*'
      ? [body['default_field']]
      : null;
  const ast = parseQueryString(body['query'], op);

  const termPred = (field: string, value: string, phrase: boolean): Pred => {
    if (!phrase && value === '*') return (d) => fieldValues(d._source, field).length > 0;
    if (!phrase && value.includes('*')) {
      const re = wildcardRegex(isText(field, ctx) ? value.toLowerCase() : value);
      return (d) =>
        fieldValues(d._source, field).some((v) =>
          isText(field, ctx) ? analyze(String(v)).some((t) => re.test(t)) : re.test(String(v)),
        );
    }
    // An unquoted multi-token value on a text field is analysed into tokens joined by the default operator.
    return (d) => textMatches(d, field, value, ctx, phrase ? 'phrase' : op);
  };
  const evalNode = (n: QsNode): Pred => {
    switch (n.t) {
      case 'not': {
        const p = evalNode(n.node);
        return (d) => !p(d);
      }
      case 'and': {
        const ps = n.nodes.map(evalNode);
        return (d) => ps.every((p) => p(d));
      }
      case 'or': {
        const ps = n.nodes.map(evalNode);
        return (d) => ps.some((p) => p(d));
      }
      case 'term': {
        if (n.field !== null) return termPred(n.field, n.value, n.phrase);
        if (defaults) {
          const ps = defaults.map((f) => termPred(f, n.value, n.phrase));
          return (d) => ps.some((p) => p(d));
        }
        return (d) => leafPaths(d._source).some((f) => termPred(f, n.value, n.phrase)(d));
      }
    }
  };
  return evalNode(ast);
}

// ---------------------------------------------------------------- sort, _source, hits

interface SortKey {
  field: string;
  order: 'asc' | 'desc';
  missing: 'first' | 'last';
}

export function parseSort(sort: unknown): SortKey[] {
  if (sort === undefined) return [];
  const list = Array.isArray(sort) ? sort : [sort];
  return list.map((s): SortKey => {
    if (typeof s === 'string') return { field: s, order: s === '_score' ? 'desc' : 'asc', missing: 'last' };
    const [field, v] = single(s, 'sort');
    if (typeof v === 'string') return { field, order: v === 'desc' ? 'desc' : 'asc', missing: 'last' };
    if (isObj(v)) {
      for (const k of Object.keys(v)) {
        if (!['order', 'missing', 'unmapped_type', 'format', 'numeric_type'].includes(k))
          throw parsing(`[sort] option [${k}] is not supported by the fake`);
      }
      const order = v['order'] === 'desc' ? 'desc' : 'asc';
      return { field, order, missing: v['missing'] === '_first' ? 'first' : 'last' };
    }
    throw parsing('[sort] malformed');
  });
}

/** The value ES returns in `hit.sort` (dates become epoch millis). */
function sortValue(doc: StoredDoc, key: SortKey, ctx: EngineContext): number | string | null {
  if (key.field === '_doc') return doc.seq;
  if (key.field === '_score') return 1;
  if (isText(key.field, ctx)) {
    throw new DslError(400, 'illegal_argument_exception', textFieldDataReason(key.field));
  }
  const vals = fieldValues(doc._source, key.field);
  if (vals.length === 0) return null;
  const conv = vals.map((v) => {
    if (typeof v === 'number') return v;
    if (key.field === '@timestamp' || isDateLike(v)) {
      try {
        return parseDate(v, ctx.now());
      } catch {
        return String(v);
      }
    }
    return typeof v === 'boolean' ? (v ? 1 : 0) : String(v);
  });
  // Multi-valued fields sort by min (asc) or max (desc), the ES default mode.
  conv.sort(cmpValues);
  return key.order === 'asc' ? conv[0]! : conv[conv.length - 1]!;
}

function cmpValues(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function compareSort(a: Array<number | string | null>, b: Array<number | string | null>, keys: SortKey[]): number {
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === y) continue;
    if (x === null) return k.missing === 'first' ? -1 : 1;
    if (y === null) return k.missing === 'first' ? 1 : -1;
    const c = cmpValues(x, y);
    if (c !== 0) return k.order === 'desc' ? -c : c;
  }
  return 0;
}

export function filterSource(source: JsonObject, spec: unknown): JsonObject | undefined {
  if (spec === undefined || spec === true) return source;
  if (spec === false) return undefined;
  let includes: string[] = [];
  let excludes: string[] = [];
  if (typeof spec === 'string') includes = [spec];
  else if (Array.isArray(spec)) includes = spec.map(String);
  else if (isObj(spec)) {
    includes = clauses(spec['includes'] ?? spec['include']).map(String);
    excludes = clauses(spec['excludes'] ?? spec['exclude']).map(String);
  }
  const inc = includes.map(wildcardRegex);
  const exc = excludes.map(wildcardRegex);
  // A leaf is selected when the pattern matches its path or any ancestor path ("log" selects "log.level").
  const selfOrAncestor = (path: string, res: RegExp[]): boolean => {
    const parts = path.split('.');
    return parts.some((_, i) => res.some((r) => r.test(parts.slice(0, i + 1).join('.'))));
  };
  const keep = (path: string): boolean => (inc.length === 0 || selfOrAncestor(path, inc)) && !selfOrAncestor(path, exc);
  const walk = (node: JsonObject, prefix: string): JsonObject => {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(node)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (isObj(v)) {
        const sub = walk(v, p);
        if (Object.keys(sub).length > 0) out[k] = sub;
      } else if (keep(p)) out[k] = v;
    }
    return out;
  };
  return walk(source, '');
}

export interface Hit {
  _index: string;
  _id: string;
  _score: number | null;
  _source?: JsonObject;
  sort?: Array<number | string | null>;
}

function toHits(
  docs: StoredDoc[],
  body: JsonObject,
  ctx: EngineContext,
  scored: boolean,
): { hits: Hit[]; sorted: StoredDoc[] } {
  const keys = parseSort(body['sort']);
  const withKeys = docs.map((d) => ({ d, k: keys.map((s) => sortValue(d, s, ctx)) }));
  if (keys.length > 0) withKeys.sort((a, b) => compareSort(a.k, b.k, keys) || a.d.seq - b.d.seq);
  let list = withKeys;
  const after = body['search_after'];
  if (after !== undefined) {
    if (!Array.isArray(after) || keys.length === 0)
      throw illegal('Sort must contain at least one field when using [search_after]');
    if (after.length !== keys.length)
      throw illegal(`search_after has ${after.length} value(s) but sort has ${keys.length}.`);
    list = list.filter((x) => compareSort(x.k, after as Array<number | string | null>, keys) > 0);
  }
  const from = Number(body['from'] ?? 0);
  const size = Number(body['size'] ?? 10);
  const page = list.slice(from, from + size);
  return {
    sorted: page.map((x) => x.d),
    hits: page.map(({ d, k }) => {
      const src = filterSource(d._source, body['_source']);
      return {
        _index: d._index,
        _id: d._id,
        _score: keys.length > 0 ? null : scored ? 1 : 0,
        ...(src !== undefined ? { _source: src } : {}),
        ...(keys.length > 0 ? { sort: k } : {}),
      };
    }),
  };
}

// ---------------------------------------------------------------- aggregations

const textFieldDataReason = (field: string): string =>
  `Fielddata is disabled on [${field}] in [fake]. Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [${field}] in order to load field data by uninverting the inverted index. Note that this can use significant memory.`;

const INTERVALS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function fixedInterval(s: unknown): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(String(s));
  if (!m)
    throw illegal(
      `failed to parse setting [date_histogram.fixedInterval] with value [${String(s)}] as a time value: unit is missing or unrecognized`,
    );
  return Number(m[1]) * INTERVALS[m[2]!]!;
}

function calendarInterval(s: unknown): number {
  const map: Record<string, number> = {
    '1m': 60_000,
    minute: 60_000,
    '1h': 3_600_000,
    hour: 3_600_000,
    '1d': 86_400_000,
    day: 86_400_000,
  };
  const v = map[String(s)];
  if (v === undefined) {
    throw illegal(
      `calendar_interval [${String(s)}] is not supported by the fake (only minute/hour/day, which are fixed-length in UTC)`,
    );
  }
  return v;
}

export function runAggs(aggs: unknown, docs: StoredDoc[], ctx: EngineContext, all: StoredDoc[]): JsonObject {
  if (!isObj(aggs)) throw parsing('Expected [START_OBJECT] under [aggs]');
  const out: JsonObject = {};
  for (const [name, def] of Object.entries(aggs)) out[name] = runAgg(name, def, docs, ctx, all);
  return out;
}

function runAgg(name: string, def: unknown, docs: StoredDoc[], ctx: EngineContext, all: StoredDoc[]): JsonObject {
  if (!isObj(def)) throw parsing(`Expected [START_OBJECT] under [${name}]`);
  const sub = def['aggs'] ?? def['aggregations'];
  const kinds = Object.keys(def).filter((k) => k !== 'aggs' && k !== 'aggregations' && k !== 'meta');
  if (kinds.length !== 1)
    throw parsing(`Expected exactly one aggregation type under [${name}], found [${kinds.join(', ')}]`);
  const kind = kinds[0]!;
  const spec = def[kind];
  if (!isObj(spec)) throw parsing(`[${kind}] aggregation [${name}] malformed`);
  const subAggs = (bucketDocs: StoredDoc[]): JsonObject =>
    sub === undefined ? {} : runAggs(sub, bucketDocs, ctx, all);
  const checkKeys = (allowed: string[]): void => {
    for (const k of Object.keys(spec)) {
      if (!allowed.includes(k))
        throw new DslError(400, 'x_content_parse_exception', `[1:1] [${kind}] unknown field [${k}]`);
    }
  };
  const field = typeof spec['field'] === 'string' ? spec['field'] : undefined;
  const needField = (): string => {
    if (field === undefined) throw illegal(`Required [field] missing for [${kind}] aggregation [${name}]`);
    if (isText(field, ctx)) {
      throw new DslError(400, 'illegal_argument_exception', textFieldDataReason(field));
    }
    return field;
  };

  switch (kind) {
    case 'terms': {
      checkKeys(['field', 'size', 'min_doc_count', 'order', 'missing', 'shard_size', 'show_term_doc_count_error']);
      const f = needField();
      const size = Number(spec['size'] ?? 10);
      const minDocCount = Number(spec['min_doc_count'] ?? 1);
      const groups = new Map<string, { key: unknown; docs: StoredDoc[] }>();
      const add = (d: StoredDoc | null, v: unknown): void => {
        const key = typeof v === 'boolean' ? (v ? 1 : 0) : v;
        const id = `${typeof key}:${String(key)}`;
        let g = groups.get(id);
        if (!g) {
          g = { key, docs: [] };
          groups.set(id, g);
        }
        if (d) g.docs.push(d);
      };
      for (const d of docs) {
        const vals = [...new Set(fieldValues(d._source, f))];
        if (vals.length === 0 && spec['missing'] !== undefined) add(d, spec['missing']);
        for (const v of vals) add(d, v);
      }
      // min_doc_count 0 brings in terms that exist in the searched indices but matched nothing.
      if (minDocCount === 0) for (const d of all) for (const v of fieldValues(d._source, f)) add(null, v);
      const order = isObj(spec['order']) ? spec['order'] : { _count: 'desc' };
      const [orderKey, orderDir] = Object.entries(order)[0] ?? ['_count', 'desc'];
      if (orderKey !== '_count' && orderKey !== '_key')
        throw illegal(`terms order [${orderKey}] is not supported by the fake`);
      const list = [...groups.values()].filter((g) => g.docs.length >= minDocCount);
      list.sort((a, b) => {
        const byKey = cmpValues(a.key as string | number, b.key as string | number);
        if (orderKey === '_key') return orderDir === 'desc' ? -byKey : byKey;
        const c = orderDir === 'asc' ? a.docs.length - b.docs.length : b.docs.length - a.docs.length;
        return c || byKey;
      });
      const top = list.slice(0, size);
      const other = list.slice(size).reduce((n, g) => n + g.docs.length, 0);
      return {
        doc_count_error_upper_bound: 0,
        sum_other_doc_count: other,
        buckets: top.map((g) => ({
          key: g.key,
          ...(typeof fieldValues(g.docs[0]?._source ?? {}, f)[0] === 'boolean'
            ? { key_as_string: String(g.key === 1) }
            : {}),
          doc_count: g.docs.length,
          ...subAggs(g.docs),
        })),
      };
    }
    case 'date_histogram': {
      if ('interval' in spec)
        throw new DslError(400, 'x_content_parse_exception', '[1:1] [date_histogram] unknown field [interval]');
      checkKeys([
        'field',
        'fixed_interval',
        'calendar_interval',
        'min_doc_count',
        'extended_bounds',
        'format',
        'time_zone',
        'order',
        'keyed',
      ]);
      const f = needField();
      if (spec['time_zone'] !== undefined && !['UTC', 'Z', '+00:00', 'Etc/UTC'].includes(String(spec['time_zone']))) {
        throw illegal(
          `date_histogram time_zone [${String(spec['time_zone'])}] is not supported by the fake (only UTC)`,
        );
      }
      if (spec['fixed_interval'] === undefined && spec['calendar_interval'] === undefined) {
        throw illegal('Invalid interval specified, must be non-null and non-empty');
      }
      const interval =
        spec['fixed_interval'] !== undefined
          ? fixedInterval(spec['fixed_interval'])
          : calendarInterval(spec['calendar_interval']);
      const minDocCount = Number(spec['min_doc_count'] ?? 0);
      const now = ctx.now();
      const byKey = new Map<number, StoredDoc[]>();
      for (const d of docs) {
        const keys = new Set<number>();
        for (const v of fieldValues(d._source, f)) {
          try {
            keys.add(Math.floor(parseDate(v, now, false, f) / interval) * interval);
          } catch {
            /* unparseable values are ignored */
          }
        }
        for (const k of keys) byKey.set(k, [...(byKey.get(k) ?? []), d]);
      }
      let keys = [...byKey.keys()].sort((a, b) => a - b);
      if (minDocCount === 0) {
        let lo = keys[0];
        let hi = keys[keys.length - 1];
        const eb = spec['extended_bounds'];
        if (isObj(eb)) {
          if (eb['min'] !== undefined) {
            const m = Math.floor(parseDate(eb['min'], now, false, f) / interval) * interval;
            lo = lo === undefined ? m : Math.min(lo, m);
          }
          if (eb['max'] !== undefined) {
            const m = Math.floor(parseDate(eb['max'], now, true, f) / interval) * interval;
            hi = hi === undefined ? m : Math.max(hi, m);
          }
        }
        keys = [];
        if (lo !== undefined && hi !== undefined) {
          if ((hi - lo) / interval > 100_000)
            throw new DslError(
              400,
              'too_many_buckets_exception',
              'Trying to create too many buckets. Must be less than or equal to: [65536].',
            );
          for (let k = lo; k <= hi; k += interval) keys.push(k);
        }
      }
      return {
        buckets: keys
          .map((k) => ({ k, docs: byKey.get(k) ?? [] }))
          .filter((b) => b.docs.length >= minDocCount)
          .map(({ k, docs: bd }) => ({
            key_as_string: new Date(k).toISOString(),
            key: k,
            doc_count: bd.length,
            ...subAggs(bd),
          })),
      };
    }
    case 'filter': {
      const pred = compileQuery(spec, ctx);
      const matched = docs.filter(pred);
      return { doc_count: matched.length, ...subAggs(matched) };
    }
    case 'filters': {
      checkKeys(['filters', 'other_bucket', 'other_bucket_key']);
      const filters = spec['filters'];
      if (!isObj(filters)) throw illegal('[filters] only the keyed form is supported by the fake');
      const buckets: JsonObject = {};
      for (const [k, q] of Object.entries(filters)) {
        const matched = docs.filter(compileQuery(q, ctx));
        buckets[k] = { doc_count: matched.length, ...subAggs(matched) };
      }
      return { buckets };
    }
    case 'cardinality': {
      checkKeys(['field', 'precision_threshold']);
      const f = needField();
      return {
        value: new Set(docs.flatMap((d) => fieldValues(d._source, f).map((v) => `${typeof v}:${String(v)}`))).size,
      };
    }
    case 'value_count': {
      checkKeys(['field']);
      const f = needField();
      return { value: docs.reduce((n, d) => n + fieldValues(d._source, f).length, 0) };
    }
    case 'max':
    case 'min':
    case 'avg':
    case 'sum': {
      checkKeys(['field', 'missing', 'format']);
      const f = needField();
      const now = ctx.now();
      let isDate = false;
      const nums = docs.flatMap((d) => {
        const vals = fieldValues(d._source, f);
        if (vals.length === 0 && spec['missing'] !== undefined) return [Number(spec['missing'])];
        return vals.map((v) => {
          if (typeof v === 'number') return v;
          if (f === '@timestamp' || isDateLike(v)) {
            isDate = true;
            return parseDate(v, now, false, f);
          }
          const n = Number(v);
          if (Number.isNaN(n))
            throw illegal(`Field [${f}] of type [keyword] is not supported for aggregation [${kind}]`);
          return n;
        });
      });
      let value: number | null;
      if (kind === 'sum') value = nums.reduce((a, b) => a + b, 0);
      else if (nums.length === 0) value = null;
      else if (kind === 'max') value = Math.max(...nums);
      else if (kind === 'min') value = Math.min(...nums);
      else value = nums.reduce((a, b) => a + b, 0) / nums.length;
      return { value, ...(isDate && value !== null ? { value_as_string: new Date(value).toISOString() } : {}) };
    }
    case 'top_hits': {
      checkKeys(['size', 'sort', '_source', 'from']);
      const body: JsonObject = {
        size: spec['size'] ?? 3,
        from: spec['from'] ?? 0,
        sort: spec['sort'],
        _source: spec['_source'],
      };
      const { hits } = toHits(docs, body, ctx, true);
      return {
        hits: {
          total: { value: docs.length, relation: 'eq' },
          max_score: spec['sort'] === undefined && docs.length > 0 ? 1 : null,
          hits,
        },
      };
    }
    default:
      throw new DslError(
        400,
        'x_content_parse_exception',
        `[1:1] Unknown aggregation type [${kind}] did you mean [terms]?`,
      );
  }
}

// ---------------------------------------------------------------- search

const BODY_KEYS = new Set([
  'query',
  'size',
  'from',
  'sort',
  '_source',
  'track_total_hits',
  'aggs',
  'aggregations',
  'search_after',
  'timeout',
  'track_scores',
  'version',
  'seq_no_primary_term',
  'stored_fields',
  'docvalue_fields',
  'fields',
  'highlight',
  'terminate_after',
]);

export interface SearchComputation {
  hits: { total?: { value: number; relation: 'eq' | 'gte' }; max_score: number | null; hits: Hit[] };
  aggregations?: JsonObject;
  count: number;
}

export function runSearch(body: JsonObject, docs: StoredDoc[], ctx: EngineContext): SearchComputation {
  for (const k of Object.keys(body)) {
    if (!BODY_KEYS.has(k))
      throw parsing(
        `Unknown key for a ${isObj(body[k]) ? 'START_OBJECT' : Array.isArray(body[k]) ? 'START_ARRAY' : 'VALUE'} in [${k}].`,
      );
  }
  if ('aggs' in body && 'aggregations' in body)
    throw parsing('Found two aggregation type definitions in [aggs] and [aggregations]');
  const size = Number(body['size'] ?? 10);
  if (!Number.isInteger(size) || size < 0)
    throw illegal(`[size] parameter cannot be negative, found [${String(body['size'])}]`);
  if (size + Number(body['from'] ?? 0) > 10_000) {
    throw illegal(
      'Result window is too large, from + size must be less than or equal to: [10000]. See the scroll api for a more efficient way to request large data sets.',
    );
  }
  const pred = compileQuery(body['query'], ctx);
  const matched = docs.filter(pred);
  const scored = body['query'] !== undefined && hasScoringClause(body['query']);
  const { hits } = toHits(matched, body, ctx, scored || body['query'] === undefined);
  const tth = body['track_total_hits'] ?? 10_000;
  let total: { value: number; relation: 'eq' | 'gte' } | undefined;
  if (tth === true) total = { value: matched.length, relation: 'eq' };
  else if (tth !== false) {
    const limit = Number(tth);
    total = matched.length > limit ? { value: limit, relation: 'gte' } : { value: matched.length, relation: 'eq' };
  }
  const aggsDef = body['aggs'] ?? body['aggregations'];
  const scores = hits.map((h) => h._score).filter((s): s is number => typeof s === 'number');
  return {
    hits: {
      ...(total ? { total } : {}),
      max_score: scores.length > 0 ? Math.max(...scores) : null,
      hits,
    },
    ...(aggsDef !== undefined ? { aggregations: runAggs(aggsDef, matched, ctx, docs) } : {}),
    count: matched.length,
  };
}

/** Filter-only queries score 0 in ES; anything with must/should/match scores > 0. */
function hasScoringClause(q: unknown): boolean {
  if (!isObj(q)) return false;
  const [kind, body] = Object.entries(q)[0] ?? ['', undefined];
  if (kind === 'bool' && isObj(body)) {
    return clauses(body['must']).length > 0 || clauses(body['should']).length > 0;
  }
  return kind !== '' && kind !== 'match_none';
}

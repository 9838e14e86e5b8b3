/**
 * A loopback Elasticsearch for tests that run the real `@elastic/elasticsearch` client over HTTP.
 *
 * Why the headers matter (research/tooling.md §2): the client throws ProductNotSupportedError on a 2xx
 * without `x-elastic-product: Elasticsearch`, and silently returns a string when the content type is
 * not JSON. So every response here carries both, unless a test asks for the broken variants.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  DslError,
  runSearch,
  type EngineContext,
  type Hit,
  type JsonObject,
  type StoredDoc,
} from './fake-elasticsearch-dsl.js';

export { DslError, analyze, fieldValues, parseDate } from './fake-elasticsearch-dsl.js';
export type { StoredDoc, Hit, JsonObject } from './fake-elasticsearch-dsl.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON; for NDJSON an array of parsed lines; otherwise the raw text (or undefined when empty). */
  body: unknown;
  rawBody: string;
  at: number;
}

export interface ShardsInfo {
  total: number;
  successful: number;
  skipped: number;
  failed: number;
  failures?: Array<{
    shard: number;
    index: string | null;
    node: string | null;
    reason: { type: string; reason: string };
  }>;
}

/** What a search handler may return; anything left out is filled in with a plausible default. */
export interface SearchResult {
  took?: number;
  timed_out?: boolean;
  _shards?: ShardsInfo;
  hits?: {
    total?: { value: number; relation: 'eq' | 'gte' };
    max_score?: number | null;
    hits: Array<Partial<Hit> & { _source?: JsonObject }>;
  };
  aggregations?: JsonObject;
  [extra: string]: unknown;
}

export interface EsErrorBody {
  root_cause: Array<{ type: string; reason: string; [k: string]: unknown }>;
  type: string;
  reason: string;
  [k: string]: unknown;
}

/** The ES error envelope. Returned from a handler it becomes the HTTP error (or the msearch item error). */
export interface EsError {
  error: EsErrorBody;
  status: number;
}

export type SearchHandler = (
  index: string,
  body: JsonObject,
  req: RecordedRequest,
) => SearchResult | EsError | undefined | Promise<SearchResult | EsError | undefined>;

export interface FakeElasticsearchOptions {
  /** Server version for `GET /`; its major decides which `compatible-with` values are accepted. Default 9.1.0. */
  version?: string;
  clusterName?: string;
  /** Answers searches (also each msearch item and counts). Return undefined to fall through to the in-memory docs. */
  search?: SearchHandler;
  /** Clock in ms for `now` date math and `took`-independent timestamps. */
  now?: () => number;
  /** Fields analysed as text; all others behave as keyword. Default: ['message']. */
  textFields?: string[];
  /** `GET /_cluster/health` status. */
  health?: 'green' | 'yellow' | 'red';
  /**
   * Emulates the odoo-ha-watch ingest pipelines' first processor (set event.ingested =
   * _ingest.timestamp): indexDocs stamps `event.ingested` with the fake's `now()` when absent.
   */
  ingestTimestamp?: boolean;
  /**
   * Security on (xpack.security.enabled): every request needs HTTP basic auth for one of these users
   * (name → password), else 401 security_exception with `WWW-Authenticate`, as ES answers.
   */
  users?: Record<string, string>;
}

export interface FailSpec {
  status: 400 | 401 | 403 | 404 | 429 | 500 | 502 | 503 | number;
  type?: string;
  reason?: string;
}

export interface FaultMatch {
  /** Only requests whose path matches (a string means "path contains"). */
  path?: string | RegExp;
}

export interface FakeElasticsearch {
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  requestsTo(path: string | RegExp): RecordedRequest[];
  /** Adds documents to an index (created if missing). Documents may carry `_id`; the rest is `_source`. */
  indexDocs(index: string, docs: Array<JsonObject>): void;
  /** Creates an empty index, so a concrete name resolves without 404. */
  createIndex(index: string): void;
  deleteIndex(index: string): void;
  indices(): string[];
  /** The next `times` requests fail as a whole with the ES error envelope. */
  fail(next: FailSpec, times?: number, match?: FaultMatch): void;
  /** Hold the next `times` requests for `ms` before answering. */
  delay(ms: number, times?: number, match?: FaultMatch): void;
  /** Destroy the socket of the next `times` requests without answering (client: ConnectionError, retried). */
  disconnect(times?: number, match?: FaultMatch): void;
  /** The next `times` 2xx responses lack `x-elastic-product` (client: ProductNotSupportedError). */
  dropProductHeader(times?: number): void;
  /** The next `times` 2xx responses are sent with a content type the client does not parse as JSON. */
  wrongContentType(times?: number, contentType?: string): void;
  /** The next `times` search/count/msearch responses are 200 but miss `hits` / `count` / `responses`. */
  malformed(times?: number): void;
  /** The next `times` searches (msearch items count one each) report `failed` of `total` shards. */
  shardFailures(failed: number, opts?: { total?: number; type?: string; reason?: string }, times?: number): void;
  /** The next `times` searches report `timed_out: true` (partial results, still HTTP 200). */
  timedOut(times?: number): void;
  /** Remove every pending fault. */
  clearFaults(): void;
  /** Changes the version `GET /` reports and the compatible-with values accepted (an upgrade or rollback). */
  setVersion(version: string): void;
  close(): Promise<void>;
}

/** The ES error envelope with `root_cause` mirroring the top-level error, as ES does for simple errors. */
export function esError(status: number, type: string, reason: string, extra: Record<string, unknown> = {}): EsError {
  return { error: { root_cause: [{ type, reason, ...extra }], type, reason, ...extra }, status };
}

export function indexNotFound(index: string): EsError {
  return esError(404, 'index_not_found_exception', `no such index [${index}]`, {
    'resource.type': 'index_or_alias',
    'resource.id': index,
    index_uuid: '_na_',
    index,
  });
}

const isEsError = (v: unknown): v is EsError =>
  typeof v === 'object' && v !== null && 'error' in v && typeof (v as { status?: unknown }).status === 'number';

const DEFAULT_ERRORS: Record<number, { type: string; reason: (path: string) => string }> = {
  400: { type: 'illegal_argument_exception', reason: () => 'bad request' },
  401: { type: 'security_exception', reason: (p) => `unable to authenticate user [elastic] for REST request [${p}]` },
  403: {
    type: 'security_exception',
    reason: () => 'action [indices:data/read/search] is unauthorized for user [watch] with effective roles [watch]',
  },
  404: { type: 'index_not_found_exception', reason: () => 'no such index [missing]' },
  429: {
    type: 'es_rejected_execution_exception',
    reason: () => 'rejected execution of coordinating operation [shard_detail=[], search_queue=1000]',
  },
  500: { type: 'internal_server_error', reason: () => 'internal error' },
  502: { type: 'bad_gateway', reason: () => 'bad gateway' },
  503: { type: 'search_phase_execution_exception', reason: () => 'all shards failed' },
};

type Fault =
  | { kind: 'fail'; spec: FailSpec; left: number; match?: FaultMatch }
  | { kind: 'delay'; ms: number; left: number; match?: FaultMatch }
  | { kind: 'disconnect'; left: number; match?: FaultMatch }
  | { kind: 'noProduct'; left: number }
  | { kind: 'contentType'; value: string; left: number }
  | { kind: 'malformed'; left: number }
  | { kind: 'shards'; failed: number; total: number; type: string; reason: string; left: number }
  | { kind: 'timedOut'; left: number };

const wildcardToRegex = (p: string): RegExp =>
  new RegExp(
    `^${p
      .split('*')
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );

export async function startFakeElasticsearch(opts: FakeElasticsearchOptions = {}): Promise<FakeElasticsearch> {
  let version = opts.version ?? '9.1.0';
  let major = Number(version.split('.')[0]);
  const now = opts.now ?? Date.now;
  const ctx: EngineContext = { now, textFields: new Set(opts.textFields ?? ['message']) };
  const store = new Map<string, StoredDoc[]>();
  let seq = 0;
  let faults: Fault[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const matches = (m: FaultMatch | undefined, path: string): boolean =>
    !m?.path || (typeof m.path === 'string' ? path.includes(m.path) : m.path.test(path));

  /** Consumes one use of the first fault of `kind` that applies. */
  function take<K extends Fault['kind']>(kind: K, path = ''): Extract<Fault, { kind: K }> | undefined {
    const f = faults.find((x) => x.kind === kind && x.left > 0 && matches('match' in x ? x.match : undefined, path));
    if (!f) return undefined;
    f.left--;
    faults = faults.filter((x) => x.left > 0);
    return f as Extract<Fault, { kind: K }>;
  }

  /**
   * As ES's IndexNameExpressionResolver: concrete names must exist (404 unless ignore_unavailable);
   * a wildcard matching nothing, or an expression resolving to no index at all, is a 404
   * index_not_found_exception when allow_no_indices is false (ES's default for search is true).
   */
  function resolve(
    indexExpr: string,
    ignoreUnavailable: boolean,
    allowNoIndices = true,
  ): { docs: StoredDoc[]; names: string[] } | EsError {
    const parts =
      indexExpr === '' || indexExpr === '_all'
        ? ['*']
        : indexExpr
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
    const names = new Set<string>();
    for (const part of parts) {
      if (part.startsWith('-')) {
        const re = wildcardToRegex(part.slice(1));
        for (const n of [...names]) if (re.test(n)) names.delete(n);
        continue;
      }
      if (part.includes('*')) {
        const re = wildcardToRegex(part);
        // Hidden indices (leading dot) only match patterns that start with a dot, as in ES.
        let matched = false;
        for (const n of store.keys())
          if (re.test(n) && (!n.startsWith('.') || part.startsWith('.'))) {
            names.add(n);
            matched = true;
          }
        if (!matched && !allowNoIndices) return indexNotFound(part);
      } else if (store.has(part)) {
        names.add(part);
      } else if (!ignoreUnavailable) {
        return indexNotFound(part);
      }
    }
    const list = [...names].sort();
    if (list.length === 0 && !allowNoIndices) return indexNotFound(indexExpr);
    return { names: list, docs: list.flatMap((n) => store.get(n) ?? []) };
  }

  function shardsFor(n: number): ShardsInfo {
    return { total: n, successful: n, skipped: 0, failed: 0 };
  }

  function normalize(index: string, r: SearchResult): JsonObject {
    const hits = r.hits?.hits ?? [];
    return {
      ...r,
      took: r.took ?? 1,
      timed_out: r.timed_out ?? false,
      _shards: r._shards ?? shardsFor(1),
      hits: {
        total: r.hits?.total ?? { value: hits.length, relation: 'eq' },
        max_score: r.hits?.max_score ?? null,
        hits: hits.map((h, i) => ({ _index: index.split(',')[0], _id: String(i + 1), _score: null, ...h })),
      },
    };
  }

  /** One search: the test handler first, then the in-memory documents. */
  async function executeSearch(
    index: string,
    body: JsonObject,
    req: RecordedRequest,
    ignoreUnavailable: boolean,
    allowNoIndices = true,
  ): Promise<JsonObject | EsError> {
    let result: JsonObject | EsError;
    const started = Date.now();
    try {
      const custom = opts.search ? await opts.search(index, body, req) : undefined;
      if (custom !== undefined) {
        result = isEsError(custom) ? custom : normalize(index, custom);
      } else {
        const resolved = resolve(index, ignoreUnavailable, allowNoIndices);
        if (isEsError(resolved)) return resolved;
        const r = runSearch(body, resolved.docs, ctx);
        result = {
          took: Math.max(1, Date.now() - started),
          timed_out: false,
          _shards: shardsFor(resolved.names.length),
          hits: r.hits,
          ...(r.aggregations ? { aggregations: r.aggregations } : {}),
        };
      }
    } catch (e) {
      if (e instanceof DslError) return dslToEsError(e);
      throw e;
    }
    if (isEsError(result)) return result;
    const shards = take('shards');
    if (shards) {
      result['_shards'] = {
        total: shards.total,
        successful: shards.total - shards.failed,
        skipped: 0,
        failed: shards.failed,
        failures: Array.from({ length: shards.failed }, (_, i) => ({
          shard: i,
          index: index.split(',')[0] ?? null,
          node: 'fake-node-id',
          reason: { type: shards.type, reason: shards.reason },
        })),
      };
    }
    if (take('timedOut')) result['timed_out'] = true;
    return result;
  }

  function dslToEsError(e: DslError): EsError {
    const cause = { type: e.type, reason: e.reason, ...e.extra };
    // Query-phase errors reach the client wrapped in search_phase_execution_exception, like ES.
    if (
      e.type === 'illegal_argument_exception' ||
      e.type === 'parse_exception' ||
      e.type === 'too_many_buckets_exception'
    ) {
      return {
        error: {
          root_cause: [cause],
          type: 'search_phase_execution_exception',
          reason: 'all shards failed',
          phase: 'query',
          grouped: true,
          failed_shards: [{ shard: 0, index: 'fake', node: 'fake-node-id', reason: cause }],
          caused_by: cause,
        },
        status: e.status,
      };
    }
    return esError(e.status, e.type, e.reason, e.extra);
  }

  // ---- HTTP plumbing ----
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  function send(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    status: number,
    body: unknown,
    extraHeaders: Record<string, string> = {},
  ): void {
    if (res.destroyed || res.headersSent) return;
    const accept = String(req.headers['accept'] ?? '');
    const compat = /compatible-with=(\d+)/.exec(accept)?.[1];
    let contentType = compat ? `application/vnd.elasticsearch+json;compatible-with=${compat}` : 'application/json';
    const headers: Record<string, string> = { 'x-elastic-product': 'Elasticsearch', ...extraHeaders };
    if (status >= 200 && status < 300) {
      if (take('noProduct')) delete headers['x-elastic-product'];
      const ct = take('contentType');
      if (ct) contentType = ct.value;
    }
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      'content-type': contentType,
      'content-length': String(Buffer.byteLength(text)),
    });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  function parseBody(raw: string, contentType: string): unknown {
    if (raw === '') return undefined;
    if (/x-ndjson/.test(contentType)) {
      return raw
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as unknown);
    }
    if (/json/.test(contentType)) return JSON.parse(raw) as unknown;
    return raw;
  }

  /** ES accepts compatible-with for its own major and the previous one; anything else is a 400. */
  function compatError(req: http.IncomingMessage): EsError | undefined {
    const values = [req.headers['accept'], req.headers['content-type']]
      .map((h) => /compatible-with=(\d+)/.exec(String(h ?? ''))?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number);
    if (values.some((v) => v !== major && v !== major - 1)) {
      const headers = ['Accept', 'Content-Type'].filter((_, i) =>
        /compatible-with/.test(String([req.headers['accept'], req.headers['content-type']][i] ?? '')),
      );
      return esError(400, 'media_type_header_exception', `Invalid media-type value on headers [${headers.join(', ')}]`);
    }
    return undefined;
  }

  /** With `users` set, as ES with security on: missing or wrong basic auth is a 401. */
  function authError(req: http.IncomingMessage, path: string): EsError | undefined {
    if (!opts.users) return undefined;
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(String(req.headers['authorization'] ?? ''));
    if (!m) return esError(401, 'security_exception', `missing authentication credentials for REST request [${path}]`);
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    const user = decoded.slice(0, i);
    if (i < 0 || !Object.hasOwn(opts.users, user) || opts.users[user] !== decoded.slice(i + 1)) {
      return esError(
        401,
        'security_exception',
        `unable to authenticate user [${i < 0 ? decoded : user}] for REST request [${path}]`,
      );
    }
    return undefined;
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse, rec: RecordedRequest): Promise<void> {
    const { method, path } = rec;
    const segs = path.split('/').filter(Boolean).map(decodeURIComponent);
    const ignoreUnavailable = rec.query['ignore_unavailable'] === 'true';
    const allowNoIndices = rec.query['allow_no_indices'] !== 'false';
    const bodyObj = (): JsonObject => {
      const b = rec.body;
      if (b === undefined) return {};
      if (typeof b !== 'object' || b === null || Array.isArray(b))
        throw new DslError(400, 'parse_exception', 'request body is required to be a JSON object');
      return b as JsonObject;
    };
    /** Search params the client may put in the query string instead of the body. */
    const withQueryParams = (b: JsonObject): JsonObject => {
      const out = { ...b };
      for (const k of ['size', 'from'])
        if (rec.query[k] !== undefined && out[k] === undefined) out[k] = Number(rec.query[k]);
      const tth = rec.query['track_total_hits'];
      if (tth !== undefined && out['track_total_hits'] === undefined)
        out['track_total_hits'] = tth === 'true' ? true : tth === 'false' ? false : Number(tth);
      return out;
    };

    if (segs.length === 0) {
      if (method === 'HEAD') return send(req, res, 200, undefined);
      if (method === 'GET') {
        return send(req, res, 200, {
          name: 'fake-node',
          cluster_name: opts.clusterName ?? 'fake-cluster',
          cluster_uuid: 'fAkEcLuStEr0000000000A',
          version: {
            number: version,
            build_flavor: 'default',
            build_type: 'docker',
            build_hash: '0000000000000000000000000000000000000000',
            build_date: '2025-01-01T00:00:00.000000000Z',
            build_snapshot: false,
            lucene_version: major >= 9 ? '10.2.2' : '9.12.0',
            minimum_wire_compatibility_version: `${major - 1}.19.0`,
            minimum_index_compatibility_version: `${major - 1}.0.0`,
          },
          tagline: 'You Know, for Search',
        });
      }
    }
    if (segs[0] === '_cluster' && segs[1] === 'health' && method === 'GET') {
      const status = opts.health ?? 'green';
      return send(req, res, status === 'red' ? 503 : 200, {
        cluster_name: opts.clusterName ?? 'fake-cluster',
        status,
        timed_out: false,
        number_of_nodes: 1,
        number_of_data_nodes: 1,
        active_primary_shards: store.size,
        active_shards: store.size,
        relocating_shards: 0,
        initializing_shards: 0,
        unassigned_shards: status === 'green' ? 0 : 1,
        delayed_unassigned_shards: 0,
        number_of_pending_tasks: 0,
        number_of_in_flight_fetch: 0,
        task_max_waiting_in_queue_millis: 0,
        active_shards_percent_as_number: status === 'green' ? 100 : 50,
      });
    }

    const last = segs[segs.length - 1];
    const index = segs.length === 2 ? segs[0]! : '_all';
    if ((segs.length === 1 || segs.length === 2) && (method === 'GET' || method === 'POST')) {
      if (last === '_search') {
        const r = await executeSearch(index, withQueryParams(bodyObj()), rec, ignoreUnavailable, allowNoIndices);
        if (isEsError(r)) return send(req, res, r.status, r);
        if (take('malformed')) delete r['hits'];
        return send(req, res, 200, r);
      }
      if (last === '_count') {
        const b = bodyObj();
        for (const k of Object.keys(b)) {
          if (k !== 'query')
            return send(
              req,
              res,
              400,
              esError(400, 'parsing_exception', `request does not support [${k}]`, { line: 1, col: 1 }),
            );
        }
        const r = await executeSearch(
          index,
          { ...(b['query'] !== undefined ? { query: b['query'] } : {}), size: 0, track_total_hits: true },
          rec,
          ignoreUnavailable,
          allowNoIndices,
        );
        if (isEsError(r)) return send(req, res, r.status, r);
        const hits = r['hits'] as { total?: { value: number } } | undefined;
        const out: JsonObject = { count: hits?.total?.value ?? 0, _shards: r['_shards'] };
        if (take('malformed')) delete out['count'];
        return send(req, res, 200, out);
      }
      if (last === '_msearch') {
        const lines = rec.body;
        if (!Array.isArray(lines) || lines.length % 2 !== 0) {
          return send(
            req,
            res,
            400,
            esError(
              400,
              'illegal_argument_exception',
              'The msearch request must be terminated by a newline [\\n] and contain header/body pairs',
            ),
          );
        }
        const started = Date.now();
        const responses: unknown[] = [];
        for (let i = 0; i < lines.length; i += 2) {
          const header = (lines[i] ?? {}) as JsonObject;
          const body = (lines[i + 1] ?? {}) as JsonObject;
          const rawIndex = header['index'];
          const itemIndex = Array.isArray(rawIndex)
            ? rawIndex.join(',')
            : typeof rawIndex === 'string'
              ? rawIndex
              : index;
          // Header options override the URL's, as ES reads them per item.
          const ignore =
            typeof header['ignore_unavailable'] === 'boolean' ? header['ignore_unavailable'] : ignoreUnavailable;
          const allow = typeof header['allow_no_indices'] === 'boolean' ? header['allow_no_indices'] : allowNoIndices;
          const r = await executeSearch(itemIndex, body, rec, ignore, allow);
          responses.push(isEsError(r) ? r : { ...r, status: 200 });
        }
        const out: JsonObject = { took: Math.max(1, Date.now() - started), responses };
        if (take('malformed')) delete out['responses'];
        return send(req, res, 200, out);
      }
    }
    send(req, res, 400, { error: `no handler found for uri [${path}] and method [${method}]` });
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: undefined,
      rawBody,
      at: now(),
    };
    requests.push(rec);
    try {
      try {
        rec.body = parseBody(rawBody, String(req.headers['content-type'] ?? ''));
      } catch (e) {
        return send(
          req,
          res,
          400,
          esError(400, 'x_content_parse_exception', `[1:1] Unexpected character: ${(e as Error).message}`),
        );
      }
      const d = take('delay', rec.path);
      if (d) await sleep(d.ms);
      if (res.destroyed) return;
      if (take('disconnect', rec.path)) {
        req.socket.destroy();
        return;
      }
      const f = take('fail', rec.path);
      if (f) {
        const def = DEFAULT_ERRORS[f.spec.status] ?? { type: 'exception', reason: () => 'injected failure' };
        const type = f.spec.type ?? def.type;
        const reason = f.spec.reason ?? def.reason(rec.path);
        const extraHeaders: Record<string, string> =
          f.spec.status === 401 ? { 'www-authenticate': 'Basic realm="security" charset="UTF-8"' } : {};
        return send(req, res, f.spec.status, esError(f.spec.status, type, reason), extraHeaders);
      }
      // ES validates the media-type headers while building the request, before authentication.
      const ce = compatError(req);
      if (ce) return send(req, res, 400, ce);
      const ae = authError(req, rec.path);
      if (ae) return send(req, res, 401, ae, { 'www-authenticate': 'Basic realm="security", charset="UTF-8"' });
      await route(req, res, rec);
    } catch (e) {
      if (e instanceof DslError) return send(req, res, e.status, dslToEsError(e));
      send(req, res, 500, esError(500, 'fake_server_exception', (e as Error).stack ?? String(e)));
    }
  }

  const server = http.createServer((req, res) => {
    void handle(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const fake: FakeElasticsearch = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    requestsTo: (p) => requests.filter((r) => (typeof p === 'string' ? r.path === p : p.test(r.path))),
    indexDocs(index, docs) {
      const list = store.get(index) ?? [];
      for (const raw of docs) {
        const { _id, ...source } = raw;
        if (opts.ingestTimestamp) {
          const ev = (source['event'] ?? {}) as JsonObject;
          if (source['event.ingested'] === undefined && ev['ingested'] === undefined)
            source['event'] = { ...ev, ingested: new Date(ctx.now()).toISOString() };
        }
        const id = _id === undefined ? `${index}-${seq + 1}` : String(_id);
        const existing = list.findIndex((d) => d._id === id);
        const doc: StoredDoc = { _index: index, _id: id, _source: source, seq: seq++ };
        if (existing >= 0) list[existing] = doc;
        else list.push(doc);
      }
      store.set(index, list);
    },
    createIndex(index) {
      if (!store.has(index)) store.set(index, []);
    },
    deleteIndex(index) {
      store.delete(index);
    },
    indices: () => [...store.keys()].sort(),
    fail(next, times = 1, match) {
      faults.push({ kind: 'fail', spec: next, left: times, ...(match ? { match } : {}) });
    },
    delay(ms, times = 1, match) {
      faults.push({ kind: 'delay', ms, left: times, ...(match ? { match } : {}) });
    },
    disconnect(times = 1, match) {
      faults.push({ kind: 'disconnect', left: times, ...(match ? { match } : {}) });
    },
    dropProductHeader(times = 1) {
      faults.push({ kind: 'noProduct', left: times });
    },
    wrongContentType(times = 1, value = 'text/plain') {
      faults.push({ kind: 'contentType', value, left: times });
    },
    malformed(times = 1) {
      faults.push({ kind: 'malformed', left: times });
    },
    shardFailures(failed, o = {}, times = 1) {
      faults.push({
        kind: 'shards',
        failed,
        total: o.total ?? Math.max(failed + 1, 2),
        type: o.type ?? 'query_shard_exception',
        reason: o.reason ?? 'failed to create query: injected shard failure',
        left: times,
      });
    },
    timedOut(times = 1) {
      faults.push({ kind: 'timedOut', left: times });
    },
    clearFaults() {
      faults = [];
    },
    setVersion(v) {
      version = v;
      major = Number(v.split('.')[0]);
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
      });
    },
  };
  return fake;
}

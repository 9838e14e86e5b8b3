import { readFileSync } from 'node:fs';
import { Client, SniffingTransport, errors } from '@elastic/elasticsearch';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import type { SourceError } from '../observation.js';
import { MsearchBatcher, type SearchItem, type SearchOutcome } from './msearch-batcher.js';

export type ElasticsearchConfig = NonNullable<Config['sources']['elasticsearch']>;
export type ServerMajor = 8 | 9;
type ClientOptions = NonNullable<ConstructorParameters<typeof Client>[0]>;

/** What the client announces: ES accepts `compatible-with` equal to its own major or the previous one. */
export function vendoredHeaders(major: ServerMajor) {
  return {
    jsonContentType: `application/vnd.elasticsearch+json; compatible-with=${major}`,
    ndjsonContentType: `application/vnd.elasticsearch+x-ndjson; compatible-with=${major}`,
    accept: `application/vnd.elasticsearch+json; compatible-with=${major},text/plain`,
  };
}

/**
 * The installed client is 9.x and hard-codes `compatible-with=9`, which an 8.x server rejects with
 * 400 media_type_header_exception. This transport swaps in the headers the 8.x client sends
 * (`compatible-with=8`, JSON and NDJSON alike); ES 8 and ES 9 both accept 8.
 */
function transportFor(major: ServerMajor): typeof SniffingTransport | undefined {
  if (major === 9) return undefined;
  const headers = vendoredHeaders(major);
  return class CompatTransport extends SniffingTransport {
    constructor(opts: ConstructorParameters<typeof SniffingTransport>[0]) {
      super({ ...opts, vendoredHeaders: headers });
    }
  };
}

export function clientOptions(cfg: ElasticsearchConfig, readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')): ClientOptions {
  const Transport = transportFor(cfg.server_major);
  return {
    nodes: cfg.nodes,
    requestTimeout: cfg.timeout,
    // A log query is re-run on the next tick anyway; one retry on a dead node is enough.
    maxRetries: 1,
    ...(cfg.api_key ? { auth: { apiKey: cfg.api_key } } : cfg.username !== undefined && cfg.password !== undefined ? { auth: { username: cfg.username, password: cfg.password } } : {}),
    ...(cfg.ca_file ? { tls: { ca: readFile(cfg.ca_file), rejectUnauthorized: true } } : {}),
    ...(Transport ? { Transport } : {}),
    name: 'odoo-ha-watch',
  };
}

/** Turns anything the client throws into a stable SourceError (never with credentials). */
export function classifyError(e: unknown): SourceError {
  if (e instanceof errors.ResponseError) {
    const status = e.meta?.statusCode ?? 0;
    const body = e.meta?.body as { error?: { type?: string; reason?: string; caused_by?: { reason?: string } } | string } | undefined;
    const err = body?.error;
    const detail = typeof err === 'string' ? err : err ? `${err.type ?? 'error'}: ${err.reason ?? ''}${err.caused_by?.reason ? ` (${err.caused_by.reason})` : ''}` : e.message;
    const kind: SourceError['kind'] = status === 401 || status === 403 ? 'auth' : status === 404 ? 'query_failed' : 'http_status';
    return { kind, message: `HTTP ${status} ${detail}`.trim() };
  }
  if (e instanceof errors.TimeoutError) return { kind: 'timeout', message: `request timed out (${e.message})` };
  if (e instanceof errors.RequestAbortedError) return { kind: 'timeout', message: 'request aborted (evaluation deadline)' };
  if (e instanceof errors.ProductNotSupportedError) return { kind: 'malformed', message: 'response lacks x-elastic-product: Elasticsearch (not Elasticsearch, or a proxy strips the header)' };
  if (e instanceof errors.DeserializationError) return { kind: 'malformed', message: `response is not valid JSON (${e.message})` };
  if (e instanceof errors.NoLivingConnectionsError) return { kind: 'unreachable', message: 'no living connections (every node failed)' };
  if (e instanceof errors.ConnectionError) return { kind: 'unreachable', message: e.message };
  if (e instanceof errors.ConfigurationError) return { kind: 'query_failed', message: `client configuration: ${e.message}` };
  return { kind: 'query_failed', message: (e as Error)?.message ?? String(e) };
}

/** The log source rules read from: named indices, window settings and a batched search. */
export interface ElasticsearchSource {
  /** A named index from config (odoo | patroni | postgresql) or the pattern itself. */
  index(nameOrPattern: string): string;
  readonly ingestDelayMs: number;
  readonly maxCatchUpMs: number;
  /** Never throws: a failure (request, item error, partial or malformed result) is `{ok:false}`. */
  search(item: SearchItem, signal?: AbortSignal): Promise<SearchOutcome>;
  close(): Promise<void>;
}

export function createElasticsearchSource(cfg: ElasticsearchConfig, logger: Logger, o: { client?: Client } = {}): ElasticsearchSource {
  const client = o.client ?? new Client(clientOptions(cfg));
  const batcher = new MsearchBatcher({
    windowMs: cfg.batch_window,
    maxBatch: cfg.max_batch,
    logger,
    send: async (searches) => client.msearch({ searches }, { requestTimeout: cfg.timeout, maxRetries: 1 }),
    classify: classifyError,
  });
  const named = cfg.indices as Record<string, string>;
  return {
    index: (n) => named[n] ?? n,
    ingestDelayMs: cfg.ingest_delay,
    maxCatchUpMs: cfg.max_catch_up,
    search: (item, signal) => batcher.search(item, signal),
    async close() {
      await batcher.drain();
      await client.close();
    },
  };
}

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

export function clientOptions(
  cfg: ElasticsearchConfig,
  major: ServerMajor,
  readFile: (p: string) => string = (p) => readFileSync(p, 'utf8'),
): ClientOptions {
  const Transport = transportFor(major);
  return {
    nodes: cfg.nodes,
    requestTimeout: cfg.timeout,
    // A log query is re-run on the next tick anyway; one retry on a dead node is enough.
    maxRetries: 1,
    ...(cfg.api_key
      ? { auth: { apiKey: cfg.api_key } }
      : cfg.username !== undefined && cfg.password !== undefined
        ? { auth: { username: cfg.username, password: cfg.password } }
        : {}),
    ...(cfg.ca_file ? { tls: { ca: readFile(cfg.ca_file), rejectUnauthorized: true } } : {}),
    ...(Transport ? { Transport } : {}),
    name: 'odoo-ha-watch',
  };
}

/** The compatible-with major to announce to a server of this version (ES accepts its own major and the previous one). */
export function majorForVersion(version: string): ServerMajor | undefined {
  const n = Number(/^(\d+)\./.exec(version)?.[1]);
  if (!Number.isInteger(n) || n < 8) return undefined;
  // The installed client speaks at most 9; a 10.x server still accepts compatible-with=9.
  return n >= 9 ? 9 : 8;
}

/** A server that rejected the announced compatible-with (e.g. upgraded or downgraded since the last probe). */
export function isMediaTypeError(e: unknown): boolean {
  if (!(e instanceof errors.ResponseError) || e.meta?.statusCode !== 400) return false;
  const err = (e.meta.body as { error?: { type?: string } } | undefined)?.error;
  return typeof err === 'object' && err?.type === 'media_type_header_exception';
}

/** The version probe failed: the search cannot be sent, so it is a failed evaluation saying why. */
class VersionProbeError extends Error {
  constructor(readonly reason: SourceError) {
    super(reason.message);
  }
}

/** Turns anything the client throws into a stable SourceError (never with credentials). */
export function classifyError(e: unknown): SourceError {
  if (e instanceof errors.ResponseError) {
    const status = e.meta?.statusCode ?? 0;
    const body = e.meta?.body as
      | { error?: { type?: string; reason?: string; caused_by?: { reason?: string } } | string }
      | undefined;
    const err = body?.error;
    const detail =
      typeof err === 'string'
        ? err
        : err
          ? `${err.type ?? 'error'}: ${err.reason ?? ''}${err.caused_by?.reason ? ` (${err.caused_by.reason})` : ''}`
          : e.message;
    const kind: SourceError['kind'] =
      status === 401 || status === 403 ? 'auth' : status === 404 ? 'query_failed' : 'http_status';
    return { kind, message: `HTTP ${status} ${detail}`.trim() };
  }
  if (e instanceof errors.TimeoutError) return { kind: 'timeout', message: `request timed out (${e.message})` };
  if (e instanceof errors.RequestAbortedError)
    return { kind: 'timeout', message: 'request aborted (evaluation deadline)' };
  if (e instanceof errors.ProductNotSupportedError)
    return {
      kind: 'malformed',
      message: 'response lacks x-elastic-product: Elasticsearch (not Elasticsearch, or a proxy strips the header)',
    };
  if (e instanceof errors.DeserializationError)
    return { kind: 'malformed', message: `response is not valid JSON (${e.message})` };
  if (e instanceof errors.NoLivingConnectionsError)
    return { kind: 'unreachable', message: 'no living connections (every node failed)' };
  if (e instanceof errors.ConnectionError) return { kind: 'unreachable', message: e.message };
  if (e instanceof errors.ConfigurationError)
    return { kind: 'query_failed', message: `client configuration: ${e.message}` };
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

export function createElasticsearchSource(
  cfg: ElasticsearchConfig,
  logger: Logger,
  o: { client?: Client } = {},
): ElasticsearchSource {
  const clients = new Map<ServerMajor, Client>();
  const clientFor = (major: ServerMajor): Client => {
    if (o.client) return o.client;
    let c = clients.get(major);
    if (!c) {
      c = new Client(clientOptions(cfg, major));
      clients.set(major, c);
    }
    return c;
  };
  /** Asks the server its version; plain JSON is accepted by every version, whatever compatible-with the client would announce. */
  const probe = async (): Promise<ServerMajor> => {
    let version: string;
    try {
      const info = await clientFor(9).info(undefined, {
        headers: { accept: 'application/json', 'content-type': 'application/json' },
        requestTimeout: cfg.timeout,
        maxRetries: 1,
      });
      version = String(info.version?.number ?? '');
    } catch (e) {
      const c = classifyError(e);
      throw new VersionProbeError({ kind: c.kind, message: `asking Elasticsearch its version (GET /): ${c.message}` });
    }
    const major = majorForVersion(version);
    if (!major)
      throw new VersionProbeError({
        kind: 'malformed',
        message: `Elasticsearch ${version || '(no version in GET /)'} is not supported (expected 8.x or later)`,
      });
    logger.info({ version, compatibleWith: major }, 'Elasticsearch version detected');
    return major;
  };
  let detected: Promise<ServerMajor> | undefined;
  /** The configured major, or (auto) the server's, asked once and shared by concurrent searches. */
  const serverMajor = (): Promise<ServerMajor> => {
    if (cfg.server_major !== 'auto') return Promise.resolve(cfg.server_major);
    if (!detected) {
      const p = probe();
      detected = p;
      // A failed probe is not cached: the next search asks again.
      p.catch(() => {
        if (detected === p) detected = undefined;
      });
    }
    return detected;
  };
  const msearch = async (searches: Record<string, unknown>[]) =>
    clientFor(await serverMajor()).msearch({ searches }, { requestTimeout: cfg.timeout, maxRetries: 1 });
  const batcher = new MsearchBatcher({
    windowMs: cfg.batch_window,
    maxBatch: cfg.max_batch,
    logger,
    send: async (searches) => {
      try {
        return await msearch(searches);
      } catch (e) {
        if (cfg.server_major !== 'auto' || !isMediaTypeError(e)) throw e;
        // The cluster changed major under us (upgrade or rollback): ask again and resend once.
        logger.warn(
          { err: classifyError(e).message },
          'Elasticsearch rejected the compatible-with header; asking its version again',
        );
        detected = undefined;
        return msearch(searches);
      }
    },
    classify: (e) => (e instanceof VersionProbeError ? e.reason : classifyError(e)),
  });
  const named = cfg.indices as Record<string, string>;
  return {
    index: (n) => named[n] ?? n,
    ingestDelayMs: cfg.ingest_delay,
    maxCatchUpMs: cfg.max_catch_up,
    search: (item, signal) => batcher.search(item, signal),
    async close() {
      await batcher.drain();
      await Promise.all([...clients.values()].map((c) => c.close()));
      if (o.client) await o.client.close();
    },
  };
}

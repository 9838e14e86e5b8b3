import type { Logger } from '../../log.js';
import type { SourceError } from '../observation.js';

/** One search: where and what (a `_search` body). */
export interface SearchItem {
  index: string;
  body: Record<string, unknown>;
}

export interface SearchHit {
  _index?: string;
  _id?: string;
  _source?: Record<string, unknown>;
  sort?: unknown[];
}

/** The parts of a search response rules read; checked before a rule sees them. */
export interface SearchResponseLike {
  took?: number;
  timed_out: boolean;
  _shards?: {
    total: number;
    successful: number;
    failed: number;
    failures?: { reason?: { type?: string; reason?: string } }[];
  };
  hits: { total: { value: number; relation: 'eq' | 'gte' }; hits: SearchHit[] };
  aggregations?: Record<string, unknown>;
}

export type SearchOutcome = { ok: true; response: SearchResponseLike } | { ok: false; error: SourceError };

interface Pending {
  item: SearchItem;
  resolve: (o: SearchOutcome) => void;
  done: boolean;
}

export interface BatcherOptions {
  /** Searches issued within this many ms share one `_msearch` request (0 = same event-loop turn). */
  windowMs: number;
  maxBatch: number;
  /** Sends the NDJSON lines (header, body, header, body…) as one `_msearch`; may throw. */
  send: (searches: Record<string, unknown>[]) => Promise<unknown>;
  classify: (e: unknown) => SourceError;
  logger?: Logger;
}

/**
 * Collects the searches rules issue in one tick and sends them as one `_msearch`, then routes
 * `responses[i]` back to each caller. A failure of the whole request fails every caller; an item
 * error, a partial result (shard failures, timed_out) or a malformed item fails only that caller.
 */
export class MsearchBatcher {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();

  constructor(private readonly o: BatcherOptions) {}

  search(item: SearchItem, signal?: AbortSignal): Promise<SearchOutcome> {
    return new Promise<SearchOutcome>((resolve) => {
      const p: Pending = {
        item,
        done: false,
        resolve: (r) => {
          if (!p.done) {
            p.done = true;
            resolve(r);
          }
        },
      };
      if (signal?.aborted)
        return p.resolve({ ok: false, error: { kind: 'timeout', message: 'aborted before the search was sent' } });
      signal?.addEventListener(
        'abort',
        () =>
          p.resolve({
            ok: false,
            error: { kind: 'timeout', message: 'evaluation deadline reached while waiting for Elasticsearch' },
          }),
        { once: true },
      );
      this.queue.push(p);
      if (this.queue.length >= this.o.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.o.windowMs);
    });
  }

  /** Sends what is queued now and waits (bounded by the client's own request timeout) for batches in flight. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.inFlight]);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.o.maxBatch).filter((p) => !p.done);
      if (batch.length === 0) continue;
      const run = this.sendBatch(batch).finally(() => this.inFlight.delete(run));
      this.inFlight.add(run);
    }
  }

  private async sendBatch(batch: Pending[]): Promise<void> {
    const searches = batch.flatMap((p) => [
      // Missing indices and partial results are errors, never "no documents".
      { index: p.item.index, allow_no_indices: false, ignore_unavailable: false, allow_partial_search_results: false },
      p.item.body,
    ]);
    let body: unknown;
    try {
      body = await this.o.send(searches);
    } catch (e) {
      const error = this.o.classify(e);
      this.o.logger?.warn({ err: error, searches: batch.length }, 'elasticsearch _msearch failed');
      for (const p of batch) p.resolve({ ok: false, error });
      return;
    }
    const responses = (body as { responses?: unknown } | null)?.responses;
    if (typeof body !== 'object' || body === null || !Array.isArray(responses) || responses.length !== batch.length) {
      const what =
        typeof body === 'string'
          ? 'a non-JSON body (content-type not JSON?)'
          : !Array.isArray(responses)
            ? 'no responses[]'
            : `${responses.length} responses for ${batch.length} searches`;
      for (const p of batch)
        p.resolve({ ok: false, error: { kind: 'malformed', message: `_msearch returned ${what}` } });
      return;
    }
    batch.forEach((p, i) => p.resolve(checkItem(responses[i], p.item.index, p.item.body)));
  }
}

export const noIndexYet = (index: string): string =>
  `no index matches ${index} yet (has Filebeat shipped any line? see filebeat/setup.sh)`;

/** True for the error a search gets when its index pattern matches no index. */
export const isNoIndexError = (e: SourceError): boolean =>
  e.kind === 'query_failed' && / index_not_found_exception: /.test(e.message);

/**
 * Paths of aggregations the request asked for that the response lacks (top level, inside
 * single-bucket aggregations and inside every bucket of a multi-bucket one). A proxy, a
 * version mismatch or a fake that drops them must not read as "0 matches": for a flatline or
 * a spike-down rule that would be a page, for the others a false resolve.
 */
export function missingAggregations(requested: unknown, got: unknown, path = 'aggregations'): string[] {
  if (!requested || typeof requested !== 'object') return [];
  const have = got && typeof got === 'object' ? (got as Record<string, unknown>) : {};
  const out: string[] = [];
  for (const [name, def] of Object.entries(requested as Record<string, unknown>)) {
    const node = have[name];
    if (!node || typeof node !== 'object') {
      out.push(`${path}.${name}`);
      continue;
    }
    const sub =
      (def as { aggs?: unknown; aggregations?: unknown } | null)?.aggs ??
      (def as { aggregations?: unknown } | null)?.aggregations;
    if (!sub) continue;
    const buckets = (node as { buckets?: unknown }).buckets;
    const nodes = Array.isArray(buckets)
      ? buckets
      : buckets && typeof buckets === 'object'
        ? Object.values(buckets)
        : [node];
    for (const b of nodes) {
      out.push(...missingAggregations(sub, b, `${path}.${name}`));
      if (out.length) break;
    }
  }
  return out;
}

/** A search response is usable only when complete: every shard answered, in time, with hits and the aggregations asked for. */
export function checkItem(r: unknown, index: string, body: Record<string, unknown> = {}): SearchOutcome {
  if (typeof r !== 'object' || r === null)
    return { ok: false, error: { kind: 'malformed', message: `search on ${index}: response item is not an object` } };
  const item = r as Record<string, unknown>;
  const err = item['error'];
  if (err !== undefined) {
    const status = typeof item['status'] === 'number' ? item['status'] : 0;
    const e = err as { type?: string; reason?: string; caused_by?: { reason?: string } } | string;
    const detail =
      typeof e === 'string'
        ? e
        : `${e.type ?? 'error'}: ${e.reason ?? ''}${e.caused_by?.reason ? ` (${e.caused_by.reason})` : ''}`;
    const kind: SourceError['kind'] = status === 401 || status === 403 ? 'auth' : 'query_failed';
    // We send allow_no_indices=false, so "nothing matches the pattern" (Filebeat has not created the
    // data stream yet, or indices.* names the wrong one) is this 404 rather than "0 matches".
    const hint = typeof e === 'object' && e.type === 'index_not_found_exception' ? ` — ${noIndexYet(index)}` : '';
    return { ok: false, error: { kind, message: `search on ${index}: HTTP ${status} ${detail}${hint}` } };
  }
  if (item['timed_out'] === true)
    return {
      ok: false,
      error: { kind: 'timeout', message: `search on ${index} timed out (partial results discarded)` },
    };
  const shards = item['_shards'] as SearchResponseLike['_shards'] | undefined;
  if (shards && typeof shards.failed === 'number' && shards.failed > 0) {
    const reason = shards.failures?.[0]?.reason;
    return {
      ok: false,
      error: {
        kind: 'query_failed',
        message: `search on ${index}: ${shards.failed} of ${shards.total} shards failed${reason ? ` (${reason.type ?? 'error'}: ${reason.reason ?? ''})` : ''}`,
      },
    };
  }
  const hits = item['hits'] as Partial<SearchResponseLike['hits']> | undefined;
  if (!hits || typeof hits !== 'object' || !Array.isArray(hits.hits) || typeof hits.total?.value !== 'number') {
    return {
      ok: false,
      error: { kind: 'malformed', message: `search on ${index}: response has no hits.total/hits.hits` },
    };
  }
  const missing = missingAggregations(body['aggs'] ?? body['aggregations'], item['aggregations']);
  if (missing.length > 0)
    return {
      ok: false,
      error: { kind: 'malformed', message: `search on ${index}: response lacks ${missing[0]} that was asked for` },
    };
  return { ok: true, response: item as unknown as SearchResponseLike };
}

import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../../log.js';
import { backoff, type ClusterEventSink } from './cluster-event.js';

export interface EtcdKeyWatchOptions {
  endpoints: readonly string[];
  /** The key watched, e.g. Patroni's leader key /service/<scope>/leader. */
  key: string;
  onEvent: ClusterEventSink;
  logger: Logger;
  now?: () => number;
  /** Time allowed to open the stream (the stream itself stays open for good). */
  connectTimeoutMs?: number;
  retryMs?: number;
  maxRetryMs?: number;
}

export interface KeyWatch {
  /** The endpoint whose watch stream is open, if any. */
  watching(): string | undefined;
  stop(): void;
}

interface WatchEvent {
  type?: 'PUT' | 'DELETE';
  kv?: { key?: string; value?: string };
}
interface WatchResponse {
  result?: { created?: boolean; canceled?: boolean; cancel_reason?: string; events?: WatchEvent[] };
  error?: { message?: string };
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

/**
 * Splits a stream of concatenated JSON objects (the etcd v3 JSON gateway writes one object per
 * watch response, newline-separated in practice) into whole objects, whatever the chunking.
 */
export class JsonObjectStream {
  private buf = '';
  push(chunk: string): unknown[] {
    this.buf += chunk;
    const out: unknown[] = [];
    let depth = 0;
    let inString = false;
    let escaped = false;
    let start = -1;
    let consumed = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (c === '\\') escaped = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '{') {
        if (depth++ === 0) start = i;
      } else if (c === '}' && depth > 0 && --depth === 0) {
        try {
          out.push(JSON.parse(this.buf.slice(start, i + 1)));
        } catch {
          // not JSON after all: skipped, the stream goes on
        }
        consumed = i + 1;
      }
    }
    this.buf = this.buf.slice(consumed);
    // A peer that never closes an object cannot make this grow without bound.
    if (this.buf.length > 1_000_000) this.buf = '';
    return out;
  }
}

/** Words for one change of Patroni's leader key. */
export function describeLeaderKeyEvent(e: WatchEvent): string {
  return e.type === 'DELETE'
    ? 'leader key removed (the leader released its lock or its lease expired)'
    : `leader key set to ${unb64(e.kv?.value) || '(empty)'}`;
}

/**
 * Watches one key through the etcd v3 JSON gateway (POST /v3/watch: a response that stays open and
 * carries each change as it is committed), failing over between endpoints and reconnecting with
 * backoff. Changes missed while no stream is open are not replayed: the regular polls cover them.
 */
export function watchEtcdKey(o: EtcdKeyWatchOptions): KeyWatch {
  const now = o.now ?? Date.now;
  const retryMs = o.retryMs ?? 1000;
  const maxRetryMs = o.maxRetryMs ?? 15_000;
  let stopped = false;
  let attempt = 0;
  let current: { endpoint: string; req: http.ClientRequest; open: boolean } | undefined;
  let timer: NodeJS.Timeout | undefined;

  const connect = () => {
    if (stopped) return;
    const endpoint = o.endpoints[attempt % o.endpoints.length]!;
    const url = new URL('/v3/watch', endpoint);
    const body = JSON.stringify({ create_request: { key: b64(o.key) } });
    const lib = url.protocol === 'https:' ? https : http;
    let settled = false;
    const req = lib.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      timeout: o.connectTimeoutMs ?? 3000,
    });
    const entry = { endpoint, req, open: false };
    current = entry;
    const retry = (reason: string) => {
      if (settled) return;
      settled = true;
      req.destroy();
      if (current === entry) current = undefined;
      if (stopped) return;
      if (entry.open) o.logger.info({ endpoint, reason }, 'etcd leader-key watch closed; reconnecting');
      else o.logger.debug({ endpoint, reason }, 'etcd leader-key watch could not be opened');
      const delay = entry.open ? retryMs : backoff(Math.floor(attempt / o.endpoints.length), retryMs, maxRetryMs);
      attempt += 1;
      timer = setTimeout(connect, delay);
      timer.unref();
    };
    req.on('timeout', () => {
      // Only opening the stream is bounded: once it is open, silence is normal.
      if (!entry.open) retry('timed out opening the watch');
    });
    req.on('error', (e) => retry(e.message));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return retry(`HTTP ${res.statusCode}`);
      }
      req.setTimeout(0);
      const parser = new JsonObjectStream();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        for (const msg of parser.push(chunk) as WatchResponse[]) {
          if (msg.error) return retry(msg.error.message ?? 'watch error');
          const r = msg.result;
          if (!r) continue;
          if (r.created) {
            entry.open = true;
            attempt = 0;
            o.logger.debug({ endpoint, key: o.key }, 'etcd leader-key watch open');
          }
          if (r.canceled) return retry(`watch canceled: ${r.cancel_reason ?? 'no reason given'}`);
          for (const e of r.events ?? [])
            o.onEvent({ source: 'etcd', subject: o.key, what: describeLeaderKeyEvent(e), at: now() });
        }
      });
      res.on('end', () => retry('stream ended'));
      res.on('error', (e) => retry(e.message));
    });
    req.end(body);
  };

  connect();
  return {
    watching: () => (current?.open ? current.endpoint : undefined),
    stop() {
      stopped = true;
      clearTimeout(timer);
      current?.req.destroy();
      current = undefined;
    },
  };
}

/** Patroni's leader key: <namespace>/<scope>/leader (namespace /service/ by default). */
export function patroniLeaderKey(namespace: string, scope: string): string {
  return `/${namespace.replace(/^\/+|\/+$/g, '')}/${scope}/leader`.replace(/^\/\//, '/');
}

import axios from 'axios';
import { describeNetworkError } from './http-probe.js';
import type { SourceError } from './observation.js';
import { excerpt } from '../util/text.js';

/** A fetched value or why it could not be fetched (one endpoint; an Observation is the whole source). */
export type Got<T> = { ok: true; value: T } | { ok: false; error: SourceError };

export interface GetOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  auth?: { username: string; password: string };
  method?: 'GET' | 'POST';
  data?: unknown;
  maxBytes?: number;
}

/** Strips credentials from a URL before it is shown anywhere. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//');
}

/**
 * A wall-clock deadline for one request, combined with the caller's signal. axios' `timeout` is a
 * socket idle timeout in Node: a server that trickles its body one byte at a time never trips it.
 */
export function deadlineSignal(
  timeoutMs: number,
  signal?: AbortSignal,
): { signal: AbortSignal; expired: () => boolean } {
  const deadline = AbortSignal.timeout(timeoutMs);
  return { signal: signal ? AbortSignal.any([signal, deadline]) : deadline, expired: () => deadline.aborted };
}

/**
 * One HTTP request whose failures are values: unreachable, timeout, auth, http_status.
 * The body is returned as text; parsers decide whether it makes sense. The whole exchange,
 * body included, is cut at `timeoutMs`.
 */
export async function httpGetText(url: string, o: GetOptions): Promise<Got<string>> {
  const target = redactUrl(url);
  const d = deadlineSignal(o.timeoutMs, o.signal);
  try {
    const res = await axios.request<string>({
      url,
      method: o.method ?? 'GET',
      timeout: o.timeoutMs,
      signal: d.signal,
      ...(o.auth ? { auth: o.auth } : {}),
      ...(o.data !== undefined ? { data: o.data, headers: { 'content-type': 'application/json' } } : {}),
      responseType: 'text',
      transformResponse: (d: unknown) => d,
      maxContentLength: o.maxBytes ?? 4 * 1024 * 1024,
      maxRedirects: 0,
      validateStatus: () => true,
      transitional: { clarifyTimeoutError: true },
      proxy: false,
    });
    const body = typeof res.data === 'string' ? res.data : String(res.data ?? '');
    if (res.status === 401 || res.status === 403)
      return { ok: false, error: { kind: 'auth', message: `HTTP ${res.status} (check username/password)`, target } };
    if (res.status < 200 || res.status >= 300)
      return {
        ok: false,
        error: {
          kind: 'http_status',
          message: `HTTP ${res.status}${body ? `: ${excerpt(body.trim(), 120)}` : ''}`,
          target,
        },
      };
    return { ok: true, value: body };
  } catch (e) {
    if (d.expired())
      return { ok: false, error: { kind: 'timeout', message: `timed out after ${o.timeoutMs}ms`, target } };
    const msg = describeNetworkError(e, o.timeoutMs);
    const kind: SourceError['kind'] = /timed out/.test(msg) ? 'timeout' : 'unreachable';
    return { ok: false, error: { kind, message: msg, target } };
  }
}

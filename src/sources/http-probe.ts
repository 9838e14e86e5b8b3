import axios from 'axios';
import { truncate } from '../util/text.js';
import { deadlineSignal } from './http-get.js';

export interface HttpProbeResult {
  url: string;
  /** HTTP status, absent when no response came back. */
  status?: number;
  /** Why there was no acceptable response: connection refused, timeout, unexpected status. */
  error?: string;
  durationMs: number;
  body?: string;
}

export interface HttpProbe {
  probe(
    url: string,
    opts: { method?: string; timeoutMs: number; signal: AbortSignal; headers?: Record<string, string> },
  ): Promise<HttpProbeResult>;
}

/** Never throws: every failure is a result with an `error`, so a dead endpoint is data, not an exception. */
export function createHttpProbe(): HttpProbe {
  return {
    async probe(url, opts) {
      const started = performance.now();
      // Wall clock, body included: a health page that trickles forever is a failed check, not a hung rule.
      const d = deadlineSignal(opts.timeoutMs, opts.signal);
      try {
        const res = await axios.request<string>({
          url,
          method: opts.method ?? 'GET',
          timeout: opts.timeoutMs,
          signal: d.signal,
          headers: opts.headers,
          responseType: 'text',
          maxContentLength: 64 * 1024,
          maxRedirects: 0,
          validateStatus: () => true,
          transitional: { clarifyTimeoutError: true },
        });
        return {
          url,
          status: res.status,
          durationMs: performance.now() - started,
          body: truncate(String(res.data ?? ''), 2000),
        };
      } catch (e) {
        return {
          url,
          error: d.expired() ? `timed out after ${opts.timeoutMs}ms` : describeNetworkError(e, opts.timeoutMs),
          durationMs: performance.now() - started,
        };
      }
    },
  };
}

export function describeNetworkError(e: unknown, timeoutMs?: number): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string } };
  const code = err.code ?? err.cause?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ETIMEDOUT':
    case 'ECONNABORTED':
      return timeoutMs ? `timed out after ${timeoutMs}ms` : 'timed out';
    case 'ERR_CANCELED':
      return 'cancelled';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ENOTFOUND':
      return 'host not found';
    case 'EHOSTUNREACH':
      return 'host unreachable';
    default:
      return code ? `${code}` : (err.message ?? String(e)).split('\n')[0]!;
  }
}

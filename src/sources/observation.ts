/**
 * What a source saw at one poll. A failed poll is a value, not an exception: rules
 * treat "unreachable" as a first-class result and never read it as "healthy".
 */
export type Observation<T> =
  | { ok: true; source: string; at: Date; value: T }
  | { ok: false; source: string; at: Date; error: SourceError };

export interface SourceError {
  /** Stable machine-readable kind: unreachable | timeout | auth | http_status | malformed | query_failed */
  kind: 'unreachable' | 'timeout' | 'auth' | 'http_status' | 'malformed' | 'query_failed';
  message: string;
  /** e.g. the URL or DSN host that failed, never with credentials */
  target?: string;
}

export function observed<T>(source: string, value: T, at = new Date()): Observation<T> {
  return { ok: true, source, at, value };
}

export function failed<T = never>(source: string, error: SourceError, at = new Date()): Observation<T> {
  return { ok: false, source, at, error };
}

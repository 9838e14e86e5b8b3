/**
 * A start-up finding about one source: what is wrong, in the on-call engineer's words, and the exact
 * edit that fixes it. `error`: the source cannot work as configured (every query would fail or lie);
 * `warning`: it may be transient or only partly affects the rules (never fails readiness).
 */
export type PreflightSource = 'elasticsearch' | 'patroni' | 'haproxy' | 'postgres' | 'etcd';

export interface Finding {
  severity: 'warning' | 'error';
  source: PreflightSource;
  what: string;
  fix: string;
}

export function formatFinding(f: Finding): string {
  return `${f.severity === 'error' ? 'ERROR' : 'WARNING'} ${f.source}: ${f.what}; fix: ${f.fix}`;
}

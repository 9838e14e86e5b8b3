/**
 * Preflight: every configured source probed once (at start-up and by `odoo-ha-watch check`), each
 * finding with the edit that fixes it. A misconfiguration is said at once, in one line, instead of
 * surfacing minutes later as "rule evaluation failing".
 */
import type { Config } from '../config/schema.js';
import type { Rule } from '../rules/rule-type.js';
import type { Finding, PreflightSource } from './finding.js';
import { probeElasticsearch, probeEtcd, probeHaproxy, probePatroni, probePostgres } from './probes.js';
import { reviewElasticsearch, reviewEtcd, reviewHaproxy, reviewPatroni, reviewPostgres } from './reviews.js';

export interface PreflightReport {
  /** Sources that were probed. */
  checked: PreflightSource[];
  findings: Finding[];
}

/** The index patterns the enabled log rules read (config key and pattern), each once. */
export function logPatterns(config: Config, rules: readonly Rule[]): { key: string; pattern: string }[] {
  const named = (config.sources.elasticsearch?.indices ?? {}) as Record<string, string>;
  const keys = new Set(
    rules
      .filter((r) => r.enabled && r.type.startsWith('log_'))
      .map((r) => (r.spec as { index?: string }).index ?? 'odoo'),
  );
  return [...keys].map((k) => ({ key: k, pattern: named[k] ?? k }));
}

/**
 * Each probe has its own request timeouts; this outer bound only guards against a probe that
 * never settles, so one slow source cannot hold the others' findings back.
 */
function bounded(source: PreflightSource, ms: number, run: () => Promise<Finding[]>): Promise<Finding[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Finding[]>((resolve) => {
    timer = setTimeout(
      () =>
        resolve([
          {
            severity: 'warning',
            source,
            what: `no answer within ${ms} ms`,
            fix: `check the sources.${source} addresses and that it runs`,
          },
        ]),
      ms,
    );
  });
  const done = run().catch((e: unknown): Finding[] => [
    {
      severity: 'warning',
      source,
      what: `the check failed: ${(e as Error)?.message ?? String(e)}`,
      fix: 'report this as a bug with the message',
    },
  ]);
  return Promise.race([done, late]).finally(() => clearTimeout(timer));
}

export async function runPreflight(config: Config, rules: readonly Rule[]): Promise<PreflightReport> {
  const s = config.sources;
  const jobs: [PreflightSource, Promise<Finding[]>][] = [];
  const slack = 2000;
  if (s.elasticsearch) {
    const es = s.elasticsearch;
    jobs.push([
      'elasticsearch',
      bounded('elasticsearch', 3 * es.timeout + slack, async () =>
        reviewElasticsearch(await probeElasticsearch(es, logPatterns(config, rules)), es),
      ),
    ]);
  }
  if (s.patroni) {
    const p = s.patroni;
    jobs.push([
      'patroni',
      bounded('patroni', p.timeout + slack, async () => reviewPatroni(await probePatroni(p), config.cluster.name)),
    ]);
  }
  if (s.haproxy) {
    const h = s.haproxy;
    jobs.push([
      'haproxy',
      bounded('haproxy', 2 * h.timeout + slack, async () => reviewHaproxy(await probeHaproxy(h), h)),
    ]);
  }
  if (s.postgres) {
    const p = s.postgres;
    jobs.push([
      'postgres',
      bounded('postgres', p.connect_timeout + 2 * p.statement_timeout + slack, async () =>
        reviewPostgres(await probePostgres(p)),
      ),
    ]);
  }
  if (s.etcd) {
    const e = s.etcd;
    jobs.push(['etcd', bounded('etcd', 2 * e.timeout + slack, async () => reviewEtcd(await probeEtcd(e)))]);
  }
  const findings = (await Promise.all(jobs.map(([, p]) => p))).flat();
  return { checked: jobs.map(([n]) => n), findings };
}

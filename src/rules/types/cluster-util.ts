import type { EvalContext, Evaluation } from '../rule-type.js';
import type { Observation } from '../../sources/observation.js';
import { formatBytes } from '../../sources/patroni/parse.js';

export { formatBytes };

/** The evaluation for a rule whose source is not configured (the loader's check() normally prevents it). */
export function notConfigured(source: string): Evaluation {
  return { ok: false, source, error: `sources.${source} is not configured` };
}

/** A failed observation as a failed evaluation: unknown is not OK, alerts stay as they are. */
export function sourceFailed(o: Observation<unknown> & { ok: false }): Evaluation {
  return { ok: false, source: o.source, error: `${o.error.kind}: ${o.error.message}` };
}

type ClusterSource = 'patroni' | 'haproxy' | 'postgres' | 'etcd';
type Polled<K extends ClusterSource> = Extract<
  Awaited<ReturnType<NonNullable<EvalContext['sources'][K]>['poll']>>,
  { ok: true }
>;

/** Polls a cluster source for a rule: the observation, or the failed evaluation (not configured / unreachable). */
export async function observe<K extends ClusterSource>(
  ctx: EvalContext,
  name: K,
): Promise<Polled<K> | { ok: false; evaluation: Evaluation }> {
  const src = ctx.sources[name];
  if (!src) return { ok: false, evaluation: notConfigured(name) };
  const obs = await src.poll(ctx.signal);
  return obs.ok ? (obs as Polled<K>) : { ok: false, evaluation: sourceFailed(obs) };
}

/** Loader check helper: the rule needs `sources.<name>`. */
export function requireSource(config: unknown, name: string, field?: string): { field?: string; message: string }[] {
  const sources = (config as { sources?: Record<string, unknown> } | undefined)?.sources ?? {};
  return sources[name]
    ? []
    : [
        {
          ...(field ? { field } : {}),
          message: `this rule reads sources.${name}, which is not configured (expected a "sources: ${name}:" section in the config)`,
        },
      ];
}

export function secondsText(s: number | null | undefined): string {
  if (s === null || s === undefined) return 'unknown';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  return `${Math.round(s / 60)} min`;
}

import type { Logger } from './log.js';
import type { Rule } from './rules/rule-type.js';
import type { ClusterEvent } from './sources/events/cluster-event.js';

/** Sources a cluster event can change: rules reading them are evaluated at once. */
export const CLUSTER_SOURCES: ReadonlySet<string> = new Set(['patroni', 'haproxy', 'postgres', 'etcd']);

/**
 * When the first evaluations after an event run: at once, then twice more while the cluster settles
 * (Patroni's REST API, HAProxy's checks and the members' views catch up over a few seconds).
 */
export const FOLLOW_UP_MS: readonly number[] = [0, 1000, 3000];

export interface ClusterTriggerOptions {
  /** Evaluates the rules the filter accepts now (rules already evaluating are left to finish). */
  evaluateNow: (filter: (rule: Rule) => boolean) => void;
  /** The source a rule reads (its rule type's), undefined for an unknown type. */
  sourceOf: (rule: Rule) => string | undefined;
  /** Drops shared polls, so the evaluations read the cluster as it is now. */
  refresh?: () => void;
  logger: Logger;
  onEvent?: (e: ClusterEvent) => void;
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

/**
 * Turns cluster events into evaluations: a burst of FOLLOW_UP_MS for the cluster rules. An event
 * during a burst starts it again instead of stacking a second one, so a flurry of events (three
 * sentinels closing at once, a DELETE then a PUT of the leader key) costs one burst.
 */
export class ClusterTrigger {
  private pending: Array<{ cancel(): void }> = [];
  private readonly setTimer: NonNullable<ClusterTriggerOptions['setTimer']>;

  constructor(private readonly o: ClusterTriggerOptions) {
    this.setTimer =
      o.setTimer ??
      ((fn, ms) => {
        const t = setTimeout(fn, ms);
        t.unref();
        return { cancel: () => clearTimeout(t) };
      });
  }

  handle(e: ClusterEvent): void {
    this.o.logger.info(
      { source: e.source, subject: e.subject, what: e.what },
      'cluster event: evaluating the cluster rules now',
    );
    this.o.onEvent?.(e);
    this.cancel();
    const isCluster = (rule: Rule) => CLUSTER_SOURCES.has(this.o.sourceOf(rule) ?? '');
    for (const ms of FOLLOW_UP_MS) {
      const run = () => {
        this.o.refresh?.();
        this.o.evaluateNow(isCluster);
      };
      if (ms === 0) run();
      else this.pending.push(this.setTimer(run, ms));
    }
  }

  cancel(): void {
    for (const p of this.pending) p.cancel();
    this.pending = [];
  }
}

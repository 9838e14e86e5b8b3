import cron, { type ScheduledTask } from 'node-cron';
import type { AlertEngine } from './alerts/engine.js';
import type { Metrics } from './http/metrics.js';
import type { Logger } from './log.js';
import type { RuleTypeRegistry } from './rules/registry.js';
import { SourceHealthLog } from './source-health-log.js';
import type { Evaluation, Rule } from './rules/rule-type.js';
import { StoreWriteError, type StateStore } from './store/store.js';
import type { Sources } from './sources/sources.js';

export interface SchedulerOptions {
  engine: AlertEngine;
  registry: RuleTypeRegistry;
  sources: Sources;
  store: StateStore;
  logger: Logger;
  metrics?: Metrics;
  now?: () => number;
  /** Told every evaluation (after it was applied): the time series records log rule counts from it. */
  onEvaluated?: (rule: Rule, ev: Evaluation, at: number) => void;
}

/** Runs one evaluation with a hard deadline: a source that ignores the abort signal still cannot hang the rule. */
export async function evaluateRule(
  rule: Rule,
  o: Pick<SchedulerOptions, 'registry' | 'sources' | 'logger' | 'store'>,
  now: Date,
  extra: { lookbackMs?: number } = {},
): Promise<Evaluation> {
  const type = o.registry.get(rule.type);
  if (!type) return { ok: false, source: 'internal', error: `unknown rule type ${rule.type}` };
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Evaluation>((resolve) => {
    timer = setTimeout(() => {
      ac.abort(new Error('evaluation timeout'));
      resolve({ ok: false, source: type.source, error: `timed out after ${rule.timeout}ms` });
    }, rule.timeout);
  });
  try {
    const cursor = await o.store.getCursor(rule.id);
    const run = type
      .evaluate(rule, {
        now,
        signal: ac.signal,
        sources: o.sources,
        logger: o.logger.child({ rule: rule.id }),
        ...(cursor !== undefined ? { cursor } : {}),
        ...(extra.lookbackMs !== undefined ? { lookbackMs: extra.lookbackMs } : {}),
      })
      .catch(
        (e: unknown): Evaluation => ({ ok: false, source: type.source, error: (e as Error)?.message ?? String(e) }),
      );
    return await Promise.race([run, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Milliseconds until the next wall-clock multiple of `every` (a tick on the boundary waits a full period). */
export function alignedDelay(now: number, every: number): number {
  return every - (now % every);
}

/**
 * Per-rule timers. A rule never overlaps itself (a tick that finds it still running is skipped
 * and counted), and rules never wait for each other: each has its own timer and deadline.
 * Ticks fall on wall-clock multiples of `every`, so rules due together share one cluster poll
 * (the sources' per-cycle cache) and one Elasticsearch _msearch.
 */
export class Scheduler {
  private timers = new Map<string, NodeJS.Timeout>();
  private tasks = new Map<string, ScheduledTask>();
  private inFlight = new Map<string, Promise<void>>();
  /** Rules whose evaluation in flight was started by `evaluateNow` (a cluster event), not by their tick. */
  private triggered = new Set<string>();
  private rules: Rule[] = [];
  private stopped = true;
  private readonly now: () => number;
  /** Source down / still down / recovered, instead of a warning per failed evaluation. */
  private readonly sourceLog: SourceHealthLog;

  constructor(private readonly o: SchedulerOptions) {
    this.now = o.now ?? Date.now;
    this.sourceLog = new SourceHealthLog(o.logger);
  }

  get activeRules(): readonly Rule[] {
    return this.rules;
  }

  start(rules: Rule[]): void {
    this.stopped = false;
    this.replace(rules);
  }

  /** Swap the rule set (reload). Rules still evaluating finish; their next tick uses the new definition. */
  replace(rules: Rule[]): void {
    this.clearTimers();
    this.rules = rules.filter((r) => r.enabled);
    this.o.metrics?.rulesLoaded.set(this.rules.length);
    if (this.stopped) return;
    for (const rule of this.rules) {
      if (rule.schedule) {
        const task = cron.schedule(rule.schedule, () => this.tick(rule), { name: rule.id, noOverlap: true });
        this.tasks.set(rule.id, task);
      } else {
        this.loop(rule, alignedDelay(this.now(), rule.every ?? 30_000));
      }
    }
  }

  private loop(rule: Rule, delay: number): void {
    const t = setTimeout(async () => {
      await this.tick(rule);
      if (this.stopped || this.timers.get(rule.id) !== t) return;
      this.loop(rule, alignedDelay(this.now(), rule.every ?? 30_000));
    }, delay);
    this.timers.set(rule.id, t);
  }

  /**
   * Evaluate the active rules the filter accepts now, outside their ticks (a cluster event). A rule
   * already evaluating is skipped: the event's follow-up evaluations read the cluster again shortly.
   */
  evaluateNow(filter: (rule: Rule) => boolean): void {
    if (this.stopped) return;
    for (const rule of this.rules) {
      if (rule.schedule || !filter(rule) || this.inFlight.has(rule.id)) continue;
      this.triggered.add(rule.id);
      void this.tick(rule).finally(() => this.triggered.delete(rule.id));
    }
  }

  /** Evaluate one rule now unless it is already running. */
  async tick(rule: Rule): Promise<void> {
    if (this.inFlight.has(rule.id)) {
      // A regular tick meeting an event-driven evaluation is not a slow rule: nothing to report.
      if (this.triggered.has(rule.id)) return;
      this.o.metrics?.evaluationsSkipped.inc({ rule: rule.id });
      this.o.logger.warn({ rule: rule.id }, 'previous evaluation still running; tick skipped');
      return;
    }
    const p = this.runOnce(rule).finally(() => this.inFlight.delete(rule.id));
    this.inFlight.set(rule.id, p);
    await p;
  }

  private async runOnce(rule: Rule): Promise<void> {
    const started = performance.now();
    const now = this.now();
    try {
      const ev = await evaluateRule(rule, this.o, new Date(now));
      this.o.metrics?.evaluations.inc({ rule: rule.id, outcome: ev.ok ? 'ok' : 'error' });
      if (!ev.ok) this.o.metrics?.sourceErrors.inc({ source: ev.source });
      this.sourceLog.record(rule.id, ev, now);
      await this.o.engine.apply(rule, ev, now);
      this.o.onEvaluated?.(rule, ev, now);
    } catch (e) {
      // A store or engine failure is surfaced and counted; the next tick tries again.
      this.o.metrics?.evaluations.inc({ rule: rule.id, outcome: 'internal_error' });
      // An unwritable store is logged and announced once by the service, not once per rule per tick.
      if (e instanceof StoreWriteError)
        this.o.logger.debug({ rule: rule.id, reason: e.reason }, 'evaluation not saved: state store not writable');
      else this.o.logger.error({ rule: rule.id, err: e }, 'applying evaluation failed');
    } finally {
      this.o.metrics?.evaluationDuration.observe({ rule: rule.id }, (performance.now() - started) / 1000);
    }
  }

  private clearTimers(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const t of this.tasks.values()) void t.destroy();
    this.tasks.clear();
  }

  /** Stop scheduling and wait (bounded) for evaluations in flight. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    await Promise.race([
      Promise.allSettled([...this.inFlight.values()]),
      new Promise((r) => setTimeout(r, graceMs).unref()),
    ]);
  }
}

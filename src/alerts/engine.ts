import type { InhibitRule } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../http/metrics.js';
import type { Evaluation, Finding, Labels, Recovery, Rule } from '../rules/rule-type.js';
import { createRegistry, type RuleTypeRegistry } from '../rules/registry.js';
import { formatDuration } from '../util/duration.js';
import { renderTemplate } from '../rules/template.js';
import type { Notifier } from '../notify/notifier.js';
import type { EvaluationCommit, RuleHealth, StateStore } from '../store/store.js';
import { fingerprintOf, type Alert } from './alert.js';
import { step, type LifecycleRule, type StepResult } from './lifecycle.js';
import type { Notification, NotifiedAlert } from './notification.js';
import { findSilence } from './silences.js';

/** The built-in rule that turns "this rule cannot evaluate" into an alert of its own. */
export const EVALUATION_FAILING_RULE_ID = 'ohw-rule-evaluation-failing';

/** Health records older than this belong to rules no longer evaluated (removed by a reload). */
const HEALTH_FRESH_MS = 15 * 60_000;

export interface EngineOptions {
  store: StateStore;
  notifiers: readonly Notifier[];
  cluster: string;
  logger: Logger;
  metrics?: Metrics;
  /** A rule failing this long raises the evaluation-failing alert. */
  failingAfterMs: number;
  onCommitted?: () => void;
  /** Inhibition rules (config `inhibit`): a firing source alert mutes matching target alerts. */
  inhibit?: readonly InhibitRule[];
  /** Rule types, for their `recovered` texts (default: every built-in type). */
  registry?: RuleTypeRegistry;
}

/** "11:42" (UTC): when something was last seen, in a resolve line. */
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

/** The placeholders of a RESOLVED line: the alert's last labels and values, recovery facts, timing. */
export function resolveVars(
  base: Record<string, unknown>,
  a: Alert,
  recoveries: readonly Recovery[] | undefined,
  now: number,
): Record<string, unknown> {
  const rec = (recoveries ?? []).filter((r) => Object.entries(r.labels).every(([k, val]) => a.labels[k] === val));
  return {
    ...base,
    ...a.labels,
    ...a.values,
    ...Object.assign({}, ...rec.map((r) => r.values)),
    last_at: hhmm(a.lastSeenAt),
    quiet_for: formatDuration(Math.max(0, now - a.lastSeenAt)),
    lasted: formatDuration(Math.max(0, now - (a.firedAt ?? a.activeSince))),
  };
}

/** Does `value` satisfy one matcher (exact string or one of a list; "" matches a missing label)? */
function matcherOk(want: string | readonly string[], value: string | undefined): boolean {
  const v = value ?? '';
  return typeof want === 'string' ? v === want : want.includes(v);
}

function matchesAll(
  matchers: InhibitRule['source_matchers'],
  ruleId: string,
  severity: string,
  labels: Labels,
): boolean {
  return Object.entries(matchers).every(([k, want]) =>
    matcherOk(
      want,
      k === 'rule' ? ruleId : k === 'severity' && labels['severity'] === undefined ? severity : labels[k],
    ),
  );
}

/**
 * Alertmanager-style inhibition: the target (an alert about to notify) is muted while another
 * firing alert matches a rule's source_matchers, the target matches its target_matchers, and both
 * have the same values for the `equal` labels. An alert never inhibits itself.
 */
export function isInhibited(
  target: { ruleId: string; severity: string; labels: Labels },
  firing: readonly Alert[],
  rules: readonly InhibitRule[],
): boolean {
  const self = fingerprintOf(target.ruleId, target.labels);
  for (const r of rules) {
    if (!matchesAll(r.target_matchers, target.ruleId, target.severity, target.labels)) continue;
    for (const a of firing) {
      if (a.state !== 'firing') continue;
      if (a.fingerprint === self) continue;
      if (!matchesAll(r.source_matchers, a.ruleId, a.severity, a.labels)) continue;
      if (r.equal.every((k) => (a.labels[k] ?? '') === (target.labels[k] ?? ''))) return true;
    }
  }
  return false;
}

export interface ApplyResult {
  step: StepResult;
  notifications: Notification[];
}

/**
 * Applies evaluations to stored alert state (dispatch): lifecycle, silences, grouping into one
 * notification per rule and kind, and the outbox — all in one store transaction.
 */
export class AlertEngine {
  private inhibitRules: readonly InhibitRule[];
  /** Tail of the apply queue: see `exclusive`. */
  private queue: Promise<unknown> = Promise.resolve();

  private readonly registry: RuleTypeRegistry;

  constructor(private readonly o: EngineOptions) {
    this.inhibitRules = o.inhibit ?? [];
    this.registry = o.registry ?? createRegistry();
  }

  /** Config reload: replaces the inhibition rules. */
  setInhibitRules(rules: readonly InhibitRule[]): void {
    this.inhibitRules = rules;
  }

  /**
   * Rules tick together (aligned timers, one shared poll, one _msearch), so their evaluations finish
   * at nearly the same moment and each one reads, then writes, shared state: the per-source
   * evaluation-failing alert, rule health, the firing alerts that inhibit others. Interleaved at
   * their awaits, two applies both see "not notified yet" and both page. Evaluations still run
   * concurrently; only applying them to the store is serialised, in arrival order.
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  apply(rule: Rule, evaluation: Evaluation, now: number, opts: { dryRun?: boolean } = {}): Promise<ApplyResult> {
    return this.exclusive(() => this.applyNow(rule, evaluation, now, opts));
  }

  /**
   * Rules no longer evaluated (removed from the rule files, or disabled): their open alerts would
   * otherwise stay firing forever. Firing ones resolve with a message saying why, pending ones are
   * dropped, and their health no longer counts towards the evaluation-failing alert.
   */
  retire(
    retired: readonly { rule: Pick<Rule, 'id' | 'name' | 'type' | 'severity'> & Partial<Rule>; reason: string }[],
    now: number,
  ): Promise<Notification[]> {
    return this.exclusive(async () => {
      const out: Notification[] = [];
      const sources = new Set<string>();
      for (const { rule, reason } of retired) {
        const health = (await this.o.store.ruleHealth()).find((h) => h.ruleId === rule.id);
        if (health?.source && health.consecutiveFailures > 0) sources.add(health.source);
        await this.o.store.forgetRule(rule.id);
        const open = (await this.o.store.alertsForRule(rule.id)).filter((a) => a.state !== 'resolved');
        if (open.length === 0) continue;
        const meta: LifecycleRule = {
          id: rule.id,
          severity: rule.severity,
          labels: rule.labels ?? {},
          for: 0,
          keepFiringFor: 0,
          repeat: 0,
        };
        const r = await this.applyFindings(meta, [], now, {
          dryRun: false,
          render: () => '',
          info: { id: rule.id, name: rule.name, type: rule.type, severity: rule.severity },
          resolvedMessage: (a) => `no longer evaluated: ${reason} (last: ${a.message})`,
        });
        out.push(...r.notifications);
      }
      const all = await this.o.store.ruleHealth();
      for (const source of sources)
        out.push(...(await this.applySourceHealth(source, all, 0, now, false)).notifications);
      return out;
    });
  }

  private async applyNow(
    rule: Rule,
    evaluation: Evaluation,
    now: number,
    opts: { dryRun?: boolean } = {},
  ): Promise<ApplyResult> {
    const dryRun = opts.dryRun === true;
    const { health, all } = await this.recordHealth(rule, evaluation, now, dryRun);
    if (!evaluation.ok) {
      // Unknown is not OK: the rule's own alerts stay as they are; only the source's meta-alert moves.
      if (!dryRun && evaluation.cursor !== undefined) {
        await this.o.store.commit({
          upserts: [],
          deletes: [],
          transitions: [],
          outbox: [],
          cursor: { ruleId: rule.id, value: evaluation.cursor },
        });
      }
      return this.applySourceHealth(evaluation.source, all, rule.repeat, now, dryRun);
    }
    const unknown = evaluation.unknown ?? [];
    const result = await this.applyFindings(this.asLifecycle(rule), evaluation.findings, now, {
      dryRun,
      // What the rule could not see this time is not "clear": those alerts keep their state.
      ...(unknown.length
        ? {
            inScope: (labels: Labels) =>
              !unknown.some((u) => Object.entries(u.labels).every(([k, v]) => labels[k] === v)),
          }
        : {}),
      render: (f, labels) => renderTemplate(rule.message, this.vars(rule, f, labels)),
      recovered: (a) => this.recoveredText(rule, a, evaluation.recoveries, now),
      ...(evaluation.cursor !== undefined ? { cursor: evaluation.cursor } : {}),
      meta: rule,
    });
    if (!dryRun && health.recoveredFrom) {
      const recovered = await this.applySourceHealth(health.recoveredFrom, all, rule.repeat, now, false);
      result.notifications.push(...recovered.notifications);
    }
    return result;
  }

  /**
   * One "rule evaluation failing" alert per source, listing every rule that cannot read it: when
   * Elasticsearch is down, twenty log rules are one page, not twenty.
   */
  private applySourceHealth(
    source: string,
    all: RuleHealth[],
    repeat: number,
    now: number,
    dryRun: boolean,
  ): Promise<ApplyResult> {
    const failing = all.filter(
      (h) => h.source === source && h.consecutiveFailures > 0 && now - (h.lastEvalAt ?? 0) <= HEALTH_FRESH_MS,
    );
    const findings: Finding[] =
      failing.length === 0
        ? []
        : [
            {
              labels: { source },
              values: {
                source,
                rules: failing.length,
                rule_ids: failing
                  .map((h) => h.ruleId)
                  .sort()
                  .join(', '),
                error: (
                  failing.reduce((a, b) => ((b.lastEvalAt ?? 0) > (a.lastEvalAt ?? 0) ? b : a)).lastError ?? ''
                ).replace(`${source}: `, ''),
              },
            },
          ];
    const meta: LifecycleRule = {
      id: EVALUATION_FAILING_RULE_ID,
      severity: 'warning',
      labels: {},
      for: this.o.failingAfterMs,
      keepFiringFor: 0,
      repeat,
    };
    return this.applyFindings(meta, findings, now, {
      inScope: (l) => l['source'] === source,
      dryRun,
      render: (f) =>
        `${f.values['rules']} rule(s) cannot read ${source}: ${f.values['error']} — ${f.values['rule_ids']}`,
      recovered: (a) =>
        `every rule reads ${source} again (${String(a.values['rules'] ?? '?')} could not, last failure at ${hhmm(a.lastSeenAt)})`,
    });
  }

  /** The RESOLVED line: the rule's `resolved_message`, else its type's `recovered` — what is true now. */
  private recoveredText(rule: Rule, a: Alert, recoveries: readonly Recovery[] | undefined, now: number): string {
    const vars = resolveVars(
      { rule_id: rule.id, rule_name: rule.name, severity: rule.severity, cluster: this.o.cluster },
      a,
      recoveries,
      now,
    );
    if (rule.resolvedMessage) return renderTemplate(rule.resolvedMessage, vars);
    const t = this.registry.get(rule.type);
    return t ? t.recovered(vars) : `condition cleared (last seen at ${String(vars['last_at'])})`;
  }

  private vars(rule: Rule, f: Finding, labels: Labels): Record<string, unknown> {
    return {
      rule_id: rule.id,
      rule_name: rule.name,
      severity: rule.severity,
      cluster: this.o.cluster,
      ...labels,
      ...f.values,
    };
  }

  private asLifecycle(rule: Rule): LifecycleRule {
    return {
      id: rule.id,
      severity: rule.severity,
      labels: rule.labels,
      for: rule.for,
      keepFiringFor: rule.keepFiringFor,
      repeat: rule.repeat,
    };
  }

  private async applyFindings(
    rule: LifecycleRule,
    findings: Finding[],
    now: number,
    o: {
      inScope?: (labels: Labels) => boolean;
      dryRun: boolean;
      render: (f: Finding, labels: Labels) => string;
      cursor?: unknown;
      meta?: Rule;
      /** Rule identity for notifications when there is no full Rule (retired rules). */
      info?: Notification['rule'];
      /** Replaces the text of resolved alerts (why they resolved, when it is not "the condition cleared"). */
      resolvedMessage?: (a: NotifiedAlert) => string;
      /** The RESOLVED line of an alert whose condition cleared. */
      recovered?: (a: Alert) => string;
    },
  ): Promise<ApplyResult> {
    const current = await this.o.store.alertsForRule(rule.id);
    const silences = await this.o.store.listSilences({ now });
    const inhibitRules = this.inhibitRules;
    const firingElsewhere = inhibitRules.length ? await this.o.store.listAlerts(['firing']) : [];
    const result = step({
      rule,
      current,
      findings,
      now,
      render: o.render,
      isMuted: (labels) =>
        findSilence(silences, rule.id, labels, now) !== undefined ||
        (inhibitRules.length > 0 &&
          isInhibited({ ruleId: rule.id, severity: rule.severity, labels }, firingElsewhere, inhibitRules)),
      ...(o.inScope ? { inScope: (a) => o.inScope!(a.labels) } : {}),
      ...(o.recovered ? { recovered: o.recovered } : {}),
    });
    if (o.resolvedMessage) result.resolved = result.resolved.map((a) => ({ ...a, message: o.resolvedMessage!(a) }));
    const meta = o.meta;
    const info =
      o.info ??
      (meta
        ? {
            id: meta.id,
            name: meta.name,
            type: meta.type,
            severity: meta.severity,
            ...(meta.description ? { description: meta.description } : {}),
            ...(meta.runbook ? { runbook: meta.runbook } : {}),
          }
        : {
            id: rule.id,
            name: 'Rule evaluation failing',
            type: 'internal',
            severity: rule.severity,
            runbook:
              'The rule cannot read its source: check the source is reachable and its credentials; its own alerts are frozen (neither fired nor resolved) until it can.',
          });
    const notifications: Notification[] = [];
    const mk = (kind: Notification['kind'], alerts: NotifiedAlert[]) => {
      if (alerts.length === 0) return;
      const renderedRunbook =
        info.runbook && meta
          ? renderTemplate(info.runbook, {
              rule_id: meta.id,
              rule_name: meta.name,
              severity: meta.severity,
              cluster: this.o.cluster,
              ...alerts[0]!.labels,
              ...alerts[0]!.values,
            })
          : info.runbook;
      notifications.push({
        key: `${rule.id}:${now}:${kind}`,
        kind,
        cluster: this.o.cluster,
        rule: { ...info, ...(renderedRunbook ? { runbook: renderedRunbook } : {}) },
        commonLabels: rule.labels,
        alerts,
        at: now,
      });
    };
    mk('firing', result.firing);
    mk('update', result.updates);
    mk('resolved', result.resolved);
    if (!o.dryRun) {
      const commit: EvaluationCommit = {
        upserts: result.upserts,
        deletes: result.deletes,
        transitions: result.transitions,
        outbox: notifications.flatMap((n) =>
          this.o.notifiers.flatMap((nt) => nt.receivers(n).map((receiver) => ({ receiver, notification: n }))),
        ),
        ...(o.cursor !== undefined ? { cursor: { ruleId: rule.id, value: o.cursor } } : {}),
      };
      if (commit.upserts.length || commit.deletes.length || commit.outbox.length || commit.cursor) {
        await this.o.store.commit(commit);
        for (const t of result.transitions)
          if (t.to === 'firing' || t.to === 'resolved')
            this.o.logger.info(
              { rule: t.ruleId, fingerprint: t.fingerprint, labels: t.labels, from: t.from, to: t.to },
              'alert transition',
            );
        if (commit.outbox.length) this.o.onCommitted?.();
      }
    }
    return { step: result, notifications };
  }

  /** Records this evaluation's outcome; returns it with every rule's health (for the per-source alert). */
  private async recordHealth(
    rule: Rule,
    ev: Evaluation,
    now: number,
    dryRun: boolean,
  ): Promise<{ health: RuleHealth & { recoveredFrom?: string }; all: RuleHealth[] }> {
    const all = await this.o.store.ruleHealth();
    const prev = all.find((h) => h.ruleId === rule.id);
    const h: RuleHealth = ev.ok
      ? { ruleId: rule.id, lastEvalAt: now, lastSuccessAt: now, consecutiveFailures: 0 }
      : {
          ruleId: rule.id,
          source: ev.source,
          lastEvalAt: now,
          ...(prev?.lastSuccessAt !== undefined ? { lastSuccessAt: prev.lastSuccessAt } : {}),
          lastError: `${ev.source}: ${ev.error}`,
          consecutiveFailures: (prev?.consecutiveFailures ?? 0) + 1,
          failingSince: prev?.failingSince ?? now,
        };
    if (!dryRun) await this.o.store.setRuleHealth(h);
    const merged = [...all.filter((x) => x.ruleId !== rule.id), h];
    const recoveredFrom = ev.ok && prev?.source && prev.consecutiveFailures > 0 ? prev.source : undefined;
    return { health: { ...h, ...(recoveredFrom ? { recoveredFrom } : {}) }, all: merged };
  }
}

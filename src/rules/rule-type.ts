import { z } from 'zod';
import type { Severity } from '../config/zod-types.js';
import { zCron, zDuration, zLabels, zSeverity } from '../config/zod-types.js';
import type { Logger } from '../log.js';
import type { Sources } from '../sources/sources.js';

export type Labels = Record<string, string>;
export type Values = Record<string, string | number | boolean | null>;

/** One thing that is wrong right now, identified by its labels (e.g. {member: "pg2"}). */
export interface Finding {
  labels: Labels;
  /** Evidence: the measured value and what it is compared with, usable as {{placeholders}}. */
  values: Values;
  /** A few raw lines (log lines, check output) that show the problem; trimmed by notifiers. */
  samples?: string[];
  /**
   * Where this incident stands (down → election → failover_completed → degraded): a change of phase
   * is told in the incident's thread (the first message edited, plus a reply when `attention`).
   */
  phase?: string;
  /** This phase needs someone to look now: besides the edit, a reply (replies notify, edits do not). */
  attention?: boolean;
  /** Keep the first message current: a changed message (a running count) edits it, quietly. */
  live?: boolean;
  /** Told once and never again: no reminder, no resolve message (a planned switchover). */
  announce?: boolean;
}

/** What the rule saw about something that recovered (merged into the resolve message's placeholders). */
export interface Recovery {
  labels: Labels;
  values: Values;
}

/**
 * Part of what a rule watches that it could not see this time (a query that failed on one node, a
 * replica the primary's view is missing for): alerts whose labels include all of `labels` are kept
 * as they are — neither fired nor resolved — while the rest of the evaluation applies.
 */
export interface Unknown {
  labels: Labels;
  /** Why, for logs and tests: e.g. "pg1: replication query timed out". */
  reason: string;
}

/**
 * A rule evaluation either saw the world (findings may be empty: all clear) or could not look.
 * "Could not look" never resolves alerts: unknown is not OK. A partial look lists what it could
 * not see in `unknown`, so those alerts stay frozen instead of resolving. A failed evaluation may
 * still carry a cursor when it read its source but cannot judge yet (a log flatline right after an
 * outage): the cursor records how far it read, so the unknown period ends.
 */
export type Evaluation =
  | { ok: true; findings: Finding[]; cursor?: unknown; unknown?: Unknown[]; recoveries?: Recovery[] }
  | { ok: false; source: string; error: string; cursor?: unknown };

export interface EvalContext {
  now: Date;
  signal: AbortSignal;
  sources: Sources;
  logger: Logger;
  /** Where the previous evaluation of this rule stopped (log windows); undefined on first run. */
  cursor?: unknown;
  /** `test-rule --since`: look back this far instead of the rule's own window. */
  lookbackMs?: number;
}

/** Fields every rule has, whatever its type. Values left out come from file defaults, then global defaults. */
export const commonRuleFields = {
  id: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9_.-]{0,63}$/,
      'rule ids are lowercase letters, digits, "_", "-" and "." (e.g. "patroni-no-leader")',
    )
    .meta({ description: 'Unique, stable id. It keys alert state: renaming it starts fresh alerts.' }),
  name: z.string().min(1).optional().meta({ description: 'Human title shown in notifications (defaults to the id).' }),
  description: z.string().optional().meta({ description: 'What the rule watches and why it matters.' }),
  severity: zSeverity
    .optional()
    .meta({ description: 'critical | warning | info (default from file/global defaults, else warning).' }),
  every: zDuration({ min: 1000 })
    .optional()
    .meta({ description: 'Evaluation interval (e.g. 15s). Mutually exclusive with schedule.' }),
  schedule: zCron.optional().meta({ description: 'Cron expression for evaluation instead of every.' }),
  for: zDuration()
    .optional()
    .meta({ description: 'How long a finding must persist (pending) before the alert fires.' }),
  keep_firing_for: zDuration()
    .optional()
    .meta({ description: 'Hysteresis: keep firing this long after the condition clears before resolving.' }),
  repeat: zDuration()
    .optional()
    .meta({ description: 'Re-notify interval while firing and not acked (0 = never; default 4h).' }),
  timeout: zDuration({ min: 100 })
    .optional()
    .meta({ description: 'Evaluation timeout (default from evaluation.timeout).' }),
  labels: zLabels.optional().meta({ description: 'Extra labels added to every alert of this rule (routing, team).' }),
  message: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'One line per alert with {{placeholders}} from the rule type.' }),
  runbook: z
    .string()
    .optional()
    .meta({ description: 'What to do first: a hint or a URL, shown in every notification.' }),
  resolved_message: z.string().min(1).optional().meta({
    description:
      "The RESOLVED line: what recovered, with the last {{placeholders}} plus {{last_at}}, {{quiet_for}} and {{lasted}} (default: the rule type's own).",
  }),
  enabled: z
    .boolean()
    .optional()
    .meta({ description: 'false keeps the rule loaded and validated but never evaluated.' }),
};

export const ruleDefaultsSchema = z.strictObject({
  severity: commonRuleFields.severity,
  every: commonRuleFields.every,
  for: commonRuleFields.for,
  keep_firing_for: commonRuleFields.keep_firing_for,
  repeat: commonRuleFields.repeat,
  timeout: commonRuleFields.timeout,
  labels: commonRuleFields.labels,
  enabled: commonRuleFields.enabled,
});
export type RuleDefaults = z.infer<typeof ruleDefaultsSchema>;

/** A rule after defaults were applied: what the scheduler and the lifecycle work with. */
export interface Rule<S = Record<string, unknown>> {
  id: string;
  type: string;
  name: string;
  description?: string;
  severity: Severity;
  every?: number;
  schedule?: string;
  for: number;
  keepFiringFor: number;
  repeat: number;
  timeout: number;
  labels: Labels;
  message: string;
  /** Template for the RESOLVED line (rule file `resolved_message`); default: the type's `recovered`. */
  resolvedMessage?: string;
  runbook?: string;
  enabled: boolean;
  /** The type-specific settings, as validated. */
  spec: S;
  /** Where it was defined, for messages. */
  origin: { file: string; line: number; col: number };
}

export interface RuleType<Shape extends z.ZodRawShape = z.ZodRawShape> {
  type: string;
  /** One line for `check` and the reference docs. */
  summary: string;
  /** Fields specific to this type. */
  shape: Shape;
  /** Placeholders the type provides to message templates, with what they mean. */
  placeholders: Record<string, string>;
  /** The message used when the rule sets none. */
  defaultMessage: string;
  /**
   * The RESOLVED line: what is true now, never the last failing text ("no ERROR lines from odoo1
   * for 15m (last at 11:42)", not "21 errors in 1m (threshold 20)"). `vars` holds the alert's labels
   * and last values, the evaluation's recovery facts, and RESOLVE_PLACEHOLDERS.
   */
  recovered(vars: Record<string, unknown>): string;
  /** Which source a failure is attributed to (for "source unhealthy" alerts and /readyz). */
  source: string;
  evaluate(rule: Rule<z.infer<z.ZodObject<Shape>>>, ctx: EvalContext): Promise<Evaluation>;
  /** Extra validation needing the whole config (e.g. the source is configured). Returns messages keyed by field. */
  check?(spec: z.infer<z.ZodObject<Shape>>, config: unknown): { field?: string; message: string }[];
}

export function defineRuleType<Shape extends z.ZodRawShape>(t: RuleType<Shape>): RuleType<Shape> {
  return t;
}

/** Placeholders every rule has, whatever its type. */
export const COMMON_PLACEHOLDERS: Record<string, string> = {
  rule_id: 'the rule id',
  rule_name: 'the rule name',
  severity: 'critical | warning | info',
  cluster: 'cluster name from the config',
};

/** Placeholders a resolve message has on top of the alert's last values. */
export const RESOLVE_PLACEHOLDERS: Record<string, string> = {
  last_at: 'when the condition was last seen (HH:MM UTC)',
  lasted: 'how long the alert fired (e.g. 4m10s)',
  quiet_for: 'how long ago the condition was last seen (e.g. 15m)',
};

/** A template value as text ("" for missing). */
export const v = (vars: Record<string, unknown>, k: string): string => {
  const x = vars[k];
  return x === undefined || x === null ? '' : String(x);
};

/**
 * A `recovered` built from one template per `problem` label value (and a default): the cluster
 * rule types report several problems each, and each one recovers in its own words.
 */
export function recoveredByProblem(
  byProblem: Record<string, string>,
  fallback: string,
): (vars: Record<string, unknown>) => string {
  return (vars) => {
    const tpl = byProblem[v(vars, 'problem')] ?? fallback;
    return tpl
      .replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_, k: string) => v(vars, k) || '?')
      .replace(/\s+/g, ' ')
      .trim();
  };
}

/** " from host.name=odoo1" for a grouped log alert, "" otherwise. */
export const groupText = (vars: Record<string, unknown>): string =>
  v(vars, 'group').trim() ? ` from ${v(vars, 'group').trim()}` : '';

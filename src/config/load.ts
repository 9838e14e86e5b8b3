import { dirname, relative, resolve } from 'node:path';
import { z } from 'zod';
import { createRegistry, ruleUnionSchema, type RuleTypeRegistry } from '../rules/registry.js';
import {
  COMMON_PLACEHOLDERS,
  RESOLVE_PLACEHOLDERS,
  ruleDefaultsSchema,
  type Rule,
  type RuleDefaults,
} from '../rules/rule-type.js';
import { placeholdersOf } from '../rules/template.js';
import { coerceAtPaths } from './env-coerce.js';
import { expandPathPattern } from './glob.js';
import { interpolate, type Interpolated } from './interpolate.js';
import { describeZodIssue, didYouMean, sortIssues, type ConfigIssue } from './issues.js';
import { objectKeysAt } from './schema-walk.js';
import { configSchema, type Config } from './schema.js';
import { readYamlFile, type YamlFile } from './yaml-file.js';

export interface RuleFile {
  file: string;
  rules: Rule[];
}

export interface Loaded {
  configFile: string;
  config: Config;
  ruleFiles: RuleFile[];
  rules: Rule[];
}

export type LoadResult = { ok: true; loaded: Loaded } | { ok: false; issues: ConfigIssue[] };

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  registry?: RuleTypeRegistry;
  /** Paths in messages are shown relative to this directory (default: cwd). */
  displayBase?: string;
}

const fileSchema = z.strictObject({
  defaults: ruleDefaultsSchema.optional(),
  rules: z.array(z.unknown()),
});

/** Validates `value` against `schema`, turning every zod issue into file:line:col issues. */
function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  yaml: YamlFile,
  prefix: PropertyKey[] = [],
  env: Pick<Interpolated, 'typed' | 'unresolved'> = { typed: [], unresolved: [] },
): { data?: z.infer<S>; issues: ConfigIssue[] } {
  const r = schema.safeParse(value);
  if (r.success) return { data: r.data, issues: [] };
  const issues: ConfigIssue[] = [];
  const under = (p: readonly PropertyKey[], u: PropertyKey[]) =>
    u.length <= p.length && u.every((k, i) => String(k) === String(p[i]));
  const typedAt = (full: readonly PropertyKey[]) => env.typed.find((t) => under(full, t));
  // Under a `${VAR}` the wrong value is the variable's, not the text in the file.
  const valueAt = (p: PropertyKey[]) => {
    if (!typedAt([...prefix, ...p])) return yaml.valueAt([...prefix, ...p]);
    return p.reduce<unknown>(
      (v, k) => (v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k as string] : undefined),
      value,
    );
  };
  for (const zi of r.error.issues) {
    // A missing variable is reported alone: "expected a number, got ${PORT}" would only restate it.
    if (env.unresolved.some((u) => under([...prefix, ...zi.path], u))) continue;
    for (const d of describeZodIssue(zi, valueAt, (p, v) => objectKeysAt(schema, p, v, value))) {
      const full = [...prefix, ...d.path];
      const t = typedAt(full);
      issues.push({
        file: yaml.file,
        ...yaml.positionOf(full, { key: d.keyOf !== undefined }),
        message: t ? `${d.message} (from ${String(yaml.valueAt(t))})` : d.message,
      });
    }
  }
  return { issues };
}

function display(file: string, base: string): string {
  const rel = relative(base, file);
  return rel.startsWith('..') ? file : rel;
}

/** Loads and validates the config file and every rule file it names; reports every problem at once. */
export function loadAll(configPath: string, opts: LoadOptions = {}): LoadResult {
  const env = opts.env ?? process.env;
  const registry = opts.registry ?? createRegistry();
  const base = opts.displayBase ?? process.cwd();
  const configFile = resolve(configPath);
  const issues: ConfigIssue[] = [];

  const cy = readYamlFile(configFile, display(configFile, base));
  let config: Config | undefined;
  let rawRulePaths: unknown;
  let configYaml: YamlFile | undefined;
  let configUnresolved = false;
  if (!cy.ok) issues.push(...cy.issues);
  else {
    configYaml = cy.yaml;
    const interp = interpolate(cy.yaml, { env });
    issues.push(...interp.issues);
    coerceAtPaths(configSchema, interp.value, interp.typed);
    configUnresolved = interp.unresolved.length > 0;
    rawRulePaths = (interp.value as { rules?: { paths?: unknown } } | null)?.rules?.paths;
    const v = validate(configSchema, interp.value ?? {}, cy.yaml, [], interp);
    issues.push(...v.issues);
    config = v.data;
  }

  const configDir = dirname(configFile);
  const rulePaths =
    config?.rules.paths ??
    (Array.isArray(rawRulePaths) && rawRulePaths.every((p) => typeof p === 'string')
      ? (rawRulePaths as string[])
      : ['../rules/*.yaml']);
  const files: string[] = [];
  rulePaths.forEach((p, i) => {
    const matched = expandPathPattern(p, configDir);
    // Without a valid config the paths are guesses: only complain about paths the user wrote.
    if (matched.length === 0 && configYaml && (config || rawRulePaths !== undefined)) {
      issues.push({
        file: configYaml.file,
        ...configYaml.positionOf(['rules', 'paths', i]),
        message: `rules path ${JSON.stringify(p)} matches no file (expected it relative to ${display(configDir, base) || '.'})`,
      });
    }
    for (const f of matched) if (!files.includes(f)) files.push(f);
  });

  const globalDefaults: RuleDefaults = config
    ? {
        severity: config.evaluation.severity,
        every: config.evaluation.every,
        for: config.evaluation.for,
        keep_firing_for: config.evaluation.keep_firing_for,
        repeat: config.evaluation.repeat,
        timeout: config.evaluation.timeout,
        labels: config.evaluation.labels,
        enabled: true,
      }
    : {};
  const union = ruleUnionSchema(registry);
  const seen = new Map<string, { file: string; line: number; col: number }>();
  const ruleFiles: RuleFile[] = [];

  for (const file of files) {
    const ry = readYamlFile(file, display(file, base));
    if (!ry.ok) {
      issues.push(...ry.issues);
      continue;
    }
    const yaml = ry.yaml;
    const interp = interpolate(yaml, { env });
    issues.push(...interp.issues);
    coerceAtPaths(
      fileSchema,
      interp.value,
      interp.typed.filter((p) => p[0] !== 'rules'),
    );
    const rulesValue = (interp.value as { rules?: unknown } | null)?.rules;
    for (const p of interp.typed) {
      if (p[0] === 'rules' && typeof p[1] === 'number' && Array.isArray(rulesValue))
        coerceAtPaths(union, rulesValue[p[1]], [p.slice(2)]);
    }
    const fv = validate(fileSchema, interp.value ?? {}, yaml, [], interp);
    issues.push(...fv.issues);
    if (!fv.data) continue;
    const defaults: RuleDefaults = {
      ...globalDefaults,
      ...stripUndefined(fv.data.defaults ?? {}),
      labels: { ...globalDefaults.labels, ...fv.data.defaults?.labels },
    };
    const rules: Rule[] = [];
    fv.data.rules.forEach((raw, i) => {
      const at = ['rules', i];
      const rv = validate(union, raw, yaml, at, interp);
      issues.push(...rv.issues);
      // Cross-field checks run on the raw mapping too, so a rule with a type error still gets
      // its duplicate id or template typo reported in the same run.
      const spec = (rv.data ?? (raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : {})) as Record<
        string,
        unknown
      >;
      const id = typeof spec['id'] === 'string' ? spec['id'] : undefined;
      const t = typeof spec['type'] === 'string' ? registry.get(spec['type']) : undefined;
      const origin = { file: yaml.file, ...yaml.positionOf(at) };
      const here = (field: string, message: string, needle?: string) =>
        issues.push({
          file: yaml.file,
          ...(needle ? yaml.positionIn([...at, field], needle) : yaml.positionOf([...at, field], { key: true })),
          message,
        });

      if (id !== undefined) {
        const prev = seen.get(id);
        if (prev)
          here(
            'id',
            `duplicate rule id "${id}" (already defined at ${prev.file}:${prev.line}:${prev.col}; ids key alert state and must be unique)`,
          );
        else seen.set(id, { file: yaml.file, ...yaml.positionOf([...at, 'id'], { key: true }) });
      }
      if (spec['every'] !== undefined && spec['schedule'] !== undefined)
        here('schedule', 'both "every" and "schedule" are set (expected only one: an interval or a cron expression)');

      const labels = { ...defaults.labels, ...(isStringRecord(spec['labels']) ? spec['labels'] : {}) };
      const message = typeof spec['message'] === 'string' ? spec['message'] : (t?.defaultMessage ?? '');
      if (t) {
        const base = new Set([
          ...Object.keys(COMMON_PLACEHOLDERS),
          ...Object.keys(t.placeholders),
          ...Object.keys(labels),
        ]);
        for (const field of ['message', 'runbook', 'resolved_message'] as const) {
          const text = spec[field];
          if (typeof text !== 'string') continue;
          const allowed =
            field === 'resolved_message' ? new Set([...base, ...Object.keys(RESOLVE_PLACEHOLDERS)]) : base;
          for (const ph of placeholdersOf(text)) {
            if (allowed.has(ph.name)) continue;
            const hint = didYouMean(ph.name, allowed);
            here(
              field,
              `unknown placeholder {{${ph.name}}} in ${field} (${hint ? `did you mean {{${hint}}}? ` : ''}expected one of: ${[...allowed].sort().join(', ')})`,
              ph.raw,
            );
          }
        }
      }
      if (!rv.data || !t || id === undefined) return;
      // Without the config (a variable missing) "sources.x is not configured" would bury the one real problem.
      if (config || !configUnresolved)
        for (const c of t.check?.(spec, config) ?? []) here(c.field ?? 'type', c.message);

      const pick = <K extends keyof RuleDefaults>(k: K) => (spec[k] as RuleDefaults[K]) ?? defaults[k];
      const common = new Set([
        'id',
        'type',
        'name',
        'description',
        'severity',
        'every',
        'schedule',
        'for',
        'keep_firing_for',
        'repeat',
        'timeout',
        'labels',
        'message',
        'resolved_message',
        'runbook',
        'enabled',
      ]);
      rules.push({
        id,
        type: t.type,
        name: (spec['name'] as string | undefined) ?? id,
        ...(spec['description'] !== undefined ? { description: spec['description'] as string } : {}),
        severity: pick('severity') ?? 'warning',
        ...(spec['schedule'] !== undefined
          ? { schedule: spec['schedule'] as string }
          : { every: pick('every') ?? 30_000 }),
        for: pick('for') ?? 0,
        keepFiringFor: pick('keep_firing_for') ?? 0,
        repeat: pick('repeat') ?? 4 * 3_600_000,
        timeout: pick('timeout') ?? 10_000,
        labels,
        message,
        ...(typeof spec['resolved_message'] === 'string' ? { resolvedMessage: spec['resolved_message'] } : {}),
        ...(spec['runbook'] !== undefined ? { runbook: spec['runbook'] as string } : {}),
        enabled: pick('enabled') ?? true,
        spec: Object.fromEntries(Object.entries(spec).filter(([k]) => !common.has(k))),
        origin,
      });
    });
    ruleFiles.push({ file: yaml.file, rules });
  }

  if (issues.length > 0 || !config) return { ok: false, issues: sortIssues(issues) };
  return { ok: true, loaded: { configFile, config, ruleFiles, rules: ruleFiles.flatMap((f) => f.rules) } };
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Resolves a config-relative path (state file, secrets) the way the loader resolves rule paths. */
export function resolveFromConfig(loaded: Loaded, p: string): string {
  return resolve(dirname(loaded.configFile), p);
}

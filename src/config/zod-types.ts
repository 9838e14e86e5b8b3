import cron from 'node-cron';
import { z } from 'zod';
import { parseDuration } from '../util/duration.js';

/** A duration as written in YAML (`30s`, `5m`, `1h30m`), parsed to milliseconds. */
export function zDuration(opts: { min?: number; max?: number } = {}) {
  return z
    .union([z.string(), z.number()])
    .transform((raw, ctx) => {
      const ms = typeof raw === 'number' ? (raw === 0 ? 0 : undefined) : parseDuration(raw);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `invalid duration (expected a number with a unit such as 30s, 5m, 1h30m or 2d, got ${JSON.stringify(raw)})`,
        });
        return z.NEVER;
      }
      if (opts.min !== undefined && ms < opts.min) {
        ctx.addIssue({
          code: 'custom',
          message: `duration too short (expected at least ${opts.min / 1000}s, got ${JSON.stringify(raw)})`,
        });
        return z.NEVER;
      }
      if (opts.max !== undefined && ms > opts.max) {
        ctx.addIssue({
          code: 'custom',
          message: `duration too long (expected at most ${opts.max / 1000}s, got ${JSON.stringify(raw)})`,
        });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ description: 'duration: 500ms, 30s, 5m, 1h30m, 2d', format: 'duration' });
}

/** A cron expression (5 fields, or 6 with seconds), checked at load time with node-cron's own parser. */
export const zCron = z
  .string()
  .refine((s) => cron.validate(s), { message: 'invalid cron expression (expected 5 or 6 fields, e.g. "*/5 * * * *")' })
  .meta({ description: 'cron expression (node-cron syntax, 5 or 6 fields)', format: 'cron' });

/** Labels are the identity of an alert: keep their keys predictable for matchers and templates. */
export const zLabels = z.record(
  z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'label names must match [a-zA-Z_][a-zA-Z0-9_]*'),
  z.string(),
);

export const zSeverity = z.enum(['critical', 'warning', 'info']);
export type Severity = z.infer<typeof zSeverity>;

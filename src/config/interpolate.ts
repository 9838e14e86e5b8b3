import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ConfigIssue } from './issues.js';
import type { YamlFile } from './yaml-file.js';

/** Keys that hold credentials: each may instead be given as `<key>_file`, read from disk (Docker/K8s secrets). */
export const SECRET_KEYS = ['token', 'password', 'api_key', 'dsn', 'secret_token'] as const;

const VAR_RE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}/g;

export interface InterpolateOptions {
  env: NodeJS.ProcessEnv;
  readSecret?: (path: string) => string;
}

/**
 * Expands `${VAR}` / `${VAR:-default}` / `${VAR:?message}` (required: the message names what to set) in every string and resolves `<secret>_file` keys.
 * Runs on the parsed tree, not the text, so line/column positions stay true to the file.
 */
export function interpolate(yaml: YamlFile, opts: InterpolateOptions): { value: unknown; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const readSecret = opts.readSecret ?? ((p: string) => readFileSync(resolve(dirname(yaml.file), p), 'utf8'));
  const issue = (path: PropertyKey[], message: string, needle?: string) => {
    const pos = needle ? yaml.positionIn(path, needle) : yaml.positionOf(path, { key: true });
    issues.push({ file: yaml.file, ...pos, message });
  };
  const visit = (v: unknown, path: PropertyKey[]): unknown => {
    if (typeof v === 'string') {
      return v.replace(VAR_RE, (whole, name: string | undefined, op: string | undefined, arg: string | undefined) => {
        if (whole === '$$') return '$';
        const val = opts.env[name!];
        if (val !== undefined && val !== '') return val;
        if (op === '-') return arg!;
        if (op === '?') {
          issue(path, `environment variable ${name} is not set: ${arg || 'required'}`, whole);
          return whole;
        }
        issue(path, `environment variable ${name} is not set (expected it in the environment, or a default: \${${name}:-value})`, whole);
        return whole; // left as written: the load fails on the issue above, not on a confusing empty value
      });
    }
    if (Array.isArray(v)) return v.map((x, i) => visit(x, [...path, i]));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = visit(x, [...path, k]);
      for (const key of SECRET_KEYS) {
        const fileKey = `${key}_file`;
        if (!(fileKey in out)) continue;
        if (key in out) {
          issue([...path, fileKey], `both "${key}" and "${fileKey}" are set (expected only one of them)`);
          delete out[fileKey];
          continue;
        }
        const p = out[fileKey];
        delete out[fileKey];
        if (typeof p !== 'string' || p === '') {
          issue([...path, fileKey], `${fileKey}: expected a file path, got ${JSON.stringify(p)}`);
          continue;
        }
        try {
          out[key] = readSecret(p).trim();
        } catch (e) {
          issue([...path, fileKey], `${fileKey}: cannot read secret file ${p} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
        }
      }
      return out;
    }
    return v;
  };
  return { value: visit(yaml.value, []), issues };
}

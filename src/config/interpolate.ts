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
  /** Reads the file named by `<VAR>_FILE` (default: relative to the working directory, as a shell would). */
  readEnvFile?: (path: string) => string;
}

export interface Interpolated {
  value: unknown;
  issues: ConfigIssue[];
  /** Paths whose whole value was one `${VAR}`: read as the schema's type there (env-coerce.ts). */
  typed: PropertyKey[][];
  /** Paths left unresolved (a missing variable): the schema would only repeat the problem there. */
  unresolved: PropertyKey[][];
}

const WHOLE_RE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::[-?][^}]*)?\}$/;

/**
 * Expands `${VAR}` / `${VAR:-default}` / `${VAR:?message}` (required: the message names what to set) in every string and resolves `<secret>_file` keys.
 * `VAR_FILE` set in the environment stands for `VAR` with the file's content (Docker/systemd secrets), so
 * a secret never has to sit in the environment. Runs on the parsed tree, not the text, so line/column
 * positions stay true to the file.
 */
export function interpolate(yaml: YamlFile, opts: InterpolateOptions): Interpolated {
  const issues: ConfigIssue[] = [];
  const typed: PropertyKey[][] = [];
  const unresolved: PropertyKey[][] = [];
  const readSecret = opts.readSecret ?? ((p: string) => readFileSync(resolve(dirname(yaml.file), p), 'utf8'));
  const readEnvFile = opts.readEnvFile ?? ((p: string) => readFileSync(resolve(p), 'utf8'));
  /** The variable's value, from `NAME` or the file `NAME_FILE` names; undefined when neither is set (or empty); null when already reported. */
  const lookup = (name: string, report: (message: string) => void): string | undefined | null => {
    const val = opts.env[name];
    const file = opts.env[`${name}_FILE`];
    const has = (x: string | undefined): x is string => x !== undefined && x !== '';
    if (has(val) && has(file)) {
      report(`both ${name} and ${name}_FILE are set (expected only one: the value, or a file holding it)`);
      return val;
    }
    if (has(val)) return val;
    if (!has(file)) return undefined;
    try {
      // Secret files usually end with a newline that is not part of the secret.
      return readEnvFile(file).replace(/\r?\n$/, '');
    } catch (e) {
      report(
        `${name}_FILE=${file}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? 'error'}; expected a readable file holding ${name})`,
      );
      return null;
    }
  };
  const issue = (path: PropertyKey[], message: string, needle?: string) => {
    const pos = needle ? yaml.positionIn(path, needle) : yaml.positionOf(path, { key: true });
    issues.push({ file: yaml.file, ...pos, message });
  };
  const visit = (v: unknown, path: PropertyKey[]): unknown => {
    if (typeof v === 'string') {
      if (WHOLE_RE.test(v)) typed.push(path);
      let missing = false;
      const out = v.replace(
        VAR_RE,
        (whole, name: string | undefined, op: string | undefined, arg: string | undefined) => {
          if (whole === '$$') return '$';
          const val = lookup(name!, (m) => issue(path, m, whole));
          if (val === null) {
            missing = true;
            return whole;
          }
          if (val !== undefined && val !== '') return val;
          if (op === '-') return arg!;
          missing = true;
          if (op === '?') {
            issue(path, `environment variable ${name} is not set: ${arg || 'required'}`, whole);
            return whole;
          }
          issue(
            path,
            `environment variable ${name} is not set (expected it in the environment, or a default: \${${name}:-value})`,
            whole,
          );
          return whole; // left as written: the load fails on the issue above, not on a confusing empty value
        },
      );
      if (missing) unresolved.push(path);
      return out;
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
          issue(
            [...path, fileKey],
            `${fileKey}: cannot read secret file ${p} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
          );
        }
      }
      return out;
    }
    return v;
  };
  return { value: visit(yaml.value, []), issues, typed, unresolved };
}

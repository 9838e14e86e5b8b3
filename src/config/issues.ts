import type { z } from 'zod';

/** One problem in one file, at the place a human has to edit. Lines and columns are 1-based. */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.col}: ${i.message}`;
}

export function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}

/** Thrown only by callers that want an exception; the loaders return issues as values. */
export class ConfigError extends Error {
  readonly code = 'OHW_CONFIG_INVALID';
  constructor(readonly issues: ConfigIssue[]) {
    super(`${issues.length} configuration problem(s):\n${issues.map(formatIssue).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The closest known name, if it is close enough to be a plausible typo. */
export function didYouMean(word: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestScore) {
      bestScore = d;
      best = k;
    }
  }
  return best !== undefined && bestScore <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** How a value reads in an error message: `"high"`, `number 5`, `a list`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : `a list of ${v.length}`;
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${String(v)}`;
}

/** `severities[1]` rather than `1`: the innermost key, with the list indexes after it. */
export function fieldName(path: readonly PropertyKey[]): string {
  let i = path.length - 1;
  let suffix = '';
  while (i >= 0 && typeof path[i] === 'number') {
    suffix = `[${String(path[i])}]${suffix}`;
    i--;
  }
  return i >= 0 ? `${String(path[i])}${suffix}` : suffix || 'document';
}

const EXPECTED_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  int: 'an integer',
  nonoptional: 'a value',
  record: 'a mapping',
  literal: 'a fixed value',
};

/** Known keys of the object schema at `path`, for "did you mean" hints. */
export type KnownKeys = (path: PropertyKey[], value: unknown) => string[];

/** A zod issue as one sentence an operator can act on, with the value that was found. */
export function describeZodIssue(
  issue: z.core.$ZodIssue,
  valueAt: (path: PropertyKey[]) => unknown,
  knownKeys: KnownKeys,
): { path: PropertyKey[]; message: string; keyOf?: string }[] {
  const got = (p: PropertyKey[]) => describeValue(valueAt(p));
  const field = fieldName(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeys(issue.path, valueAt(issue.path));
      return issue.keys.map((k) => {
        const hint = didYouMean(k, known);
        return {
          path: [...issue.path, k],
          keyOf: k,
          message: `unknown key "${k}"${hint ? ` (did you mean "${hint}"?)` : known.length ? ` (expected one of: ${known.join(', ')})` : ''}`,
        };
      });
    }
    case 'invalid_type': {
      const value = valueAt(issue.path);
      if (value === undefined)
        return [
          {
            path: issue.path,
            message: `missing required key "${field}" (expected ${EXPECTED_NAMES[issue.expected] ?? issue.expected})`,
          },
        ];
      return [
        {
          path: issue.path,
          message: `${field}: wrong type (expected ${EXPECTED_NAMES[issue.expected] ?? issue.expected}, got ${got(issue.path)})`,
        },
      ];
    }
    case 'invalid_value':
      return [
        {
          path: issue.path,
          message: `${field}: invalid value (expected one of ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}, got ${got(issue.path)})`,
        },
      ];
    case 'invalid_union': {
      if ('discriminator' in issue && issue.discriminator) {
        const options = ((issue as { options?: unknown[] }).options ?? []).map(String);
        const value = valueAt(issue.path);
        const hint = typeof value === 'string' ? didYouMean(value, options) : undefined;
        if (value === undefined)
          return [
            { path: issue.path, message: `missing required key "${field}" (expected one of ${options.join(' | ')})` },
          ];
        return [
          {
            path: issue.path,
            message: `${field}: unknown rule type (expected one of ${options.join(' | ')}, got ${got(issue.path)})${hint ? ` — did you mean "${hint}"?` : ''}`,
          },
        ];
      }
      return [{ path: issue.path, message: `${field}: ${issue.message} (got ${got(issue.path)})` }];
    }
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? `at least` : `at most`;
      const what =
        issue.origin === 'array'
          ? Number(issue.code === 'too_small' ? issue.minimum : issue.maximum) === 1
            ? ' item'
            : ' items'
          : issue.origin === 'string'
            ? ' characters'
            : '';
      const n = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      return [
        {
          path: issue.path,
          message: `${field}: out of range (expected ${bound} ${String(n)}${what}, got ${got(issue.path)})`,
        },
      ];
    }
    case 'invalid_key': {
      const key = String(issue.path[issue.path.length - 1]);
      const why = issue.issues[0]?.message ?? issue.message;
      return [
        {
          path: issue.path,
          keyOf: key,
          message: `${fieldName(issue.path.slice(0, -1))}: invalid key "${key}" (${why})`,
        },
      ];
    }
    case 'invalid_format':
      return [{ path: issue.path, message: `${field}: ${issue.message} (got ${got(issue.path)})` }];
    default: {
      const value = valueAt(issue.path);
      const tail = /\bgot\b/.test(issue.message) || value === undefined ? '' : ` (got ${got(issue.path)})`;
      return [{ path: issue.path, message: `${field}: ${issue.message}${tail}` }];
    }
  }
}

import type { z } from 'zod';
import { schemaAt } from './schema-walk.js';

type AnySchema = z.core.$ZodType;
interface Def {
  type: string;
  innerType?: AnySchema;
  in?: AnySchema;
  element?: AnySchema;
  options?: AnySchema[];
  values?: unknown[];
}
const defOf = (s: AnySchema) => (s as unknown as { _zod: { def: Def } })._zod.def;

type Kind = 'string' | 'number' | 'boolean' | 'array' | 'other';

/** What JSON-ish kinds a schema accepts, looking through wrappers, transforms and unions. */
function kindsOf(s: AnySchema, depth = 0): Set<Kind> {
  const out = new Set<Kind>();
  if (depth > 20) return out;
  const d = defOf(s);
  if (
    d.innerType &&
    ['optional', 'nullable', 'default', 'prefault', 'catch', 'readonly', 'nonoptional'].includes(d.type)
  )
    return kindsOf(d.innerType, depth + 1);
  if (d.type === 'pipe' && d.in) return kindsOf(d.in, depth + 1);
  if (d.type === 'union') {
    for (const o of d.options ?? []) for (const k of kindsOf(o, depth + 1)) out.add(k);
    return out;
  }
  if (d.type === 'string' || d.type === 'enum' || d.type === 'template_literal') out.add('string');
  else if (d.type === 'number' || d.type === 'int') out.add('number');
  else if (d.type === 'boolean') out.add('boolean');
  else if (d.type === 'array') out.add('array');
  else if (d.type === 'literal') {
    for (const v of d.values ?? [])
      out.add(
        typeof v === 'string'
          ? 'string'
          : typeof v === 'number'
            ? 'number'
            : typeof v === 'boolean'
              ? 'boolean'
              : 'other',
      );
  } else out.add('other');
  return out;
}

function elementOf(s: AnySchema): AnySchema | undefined {
  for (let i = 0; i < 20; i++) {
    const d = defOf(s);
    if (d.type === 'array') return d.element;
    if (d.innerType) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else return undefined;
  }
  return undefined;
}

/**
 * Turns the text of a whole-value `${VAR}` into the type the schema expects there: environment variables
 * are always strings, but `port: ${OHW_HTTP_PORT}` means a number. A field that accepts strings keeps the
 * text as is; text that does not look like the expected type is left for the schema to reject with its value.
 * Lists: `a,b,c` (items trimmed, empty ones dropped) or a JSON array `["a","b"]`.
 */
export function coerceEnvText(schema: AnySchema, text: string): unknown {
  const kinds = kindsOf(schema);
  if (kinds.has('string')) return text;
  const t = text.trim();
  if (kinds.has('number') && /^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (kinds.has('boolean') && /^(true|false)$/i.test(t)) return t.toLowerCase() === 'true';
  if (kinds.has('array')) {
    let items: unknown[] | undefined;
    if (t.startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(t);
        if (Array.isArray(parsed)) items = parsed;
      } catch {
        /* not JSON: fall through to the comma list */
      }
    }
    items ??=
      t === ''
        ? []
        : t
            .split(',')
            .map((x) => x.trim())
            .filter((x) => x !== '');
    const el = elementOf(schema);
    return el ? items.map((x) => (typeof x === 'string' ? coerceEnvText(el, x) : x)) : items;
  }
  return text;
}

/** Applies {@link coerceEnvText} in place at every path that held a whole-value `${VAR}`. */
export function coerceAtPaths(root: AnySchema, value: unknown, paths: readonly PropertyKey[][]): unknown {
  for (const path of paths) {
    if (path.length === 0) continue;
    const parent = path
      .slice(0, -1)
      .reduce<unknown>(
        (v, k) => (v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k as string] : undefined),
        value,
      );
    const key = path.at(-1)!;
    if (!parent || typeof parent !== 'object') continue;
    const text = (parent as Record<PropertyKey, unknown>)[key as string];
    if (typeof text !== 'string') continue;
    const s = schemaAt(root, path, value);
    if (s) (parent as Record<PropertyKey, unknown>)[key as string] = coerceEnvText(s, text);
  }
  return value;
}

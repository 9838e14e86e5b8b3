import type { z } from 'zod';

type AnySchema = z.core.$ZodType;
interface Def {
  type: string;
  innerType?: AnySchema;
  in?: AnySchema;
  out?: AnySchema;
  element?: AnySchema;
  shape?: Record<string, AnySchema>;
  options?: AnySchema[];
  valueType?: AnySchema;
  discriminator?: string;
}

const defOf = (s: AnySchema) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Strip wrappers (optional, defaults, transforms) down to the schema that describes the data's shape. */
export function unwrap(s: AnySchema, value?: unknown): AnySchema {
  for (let i = 0; i < 20; i++) {
    const d = defOf(s);
    if (
      d.innerType &&
      ['optional', 'nullable', 'default', 'prefault', 'catch', 'readonly', 'nonoptional'].includes(d.type)
    )
      s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else if (d.type === 'union' && d.options) {
      const pick = pickUnionOption(d, value);
      if (!pick) return s;
      s = pick;
    } else return s;
  }
  return s;
}

function pickUnionOption(d: Def, value: unknown): AnySchema | undefined {
  const opts = d.options ?? [];
  if (d.discriminator && value && typeof value === 'object') {
    const tag = (value as Record<string, unknown>)[d.discriminator];
    return opts.find((o) => {
      const shape = defOf(unwrap(o)).shape;
      const lit = shape?.[d.discriminator!];
      return lit && (defOf(lit) as unknown as { values?: unknown[] }).values?.includes(tag);
    });
  }
  return opts.find((o) => defOf(unwrap(o)).type === 'object');
}

/** The schema describing the value at `path`, following objects, arrays, records and discriminated unions. */
export function schemaAt(root: AnySchema, path: readonly PropertyKey[], rootValue: unknown): AnySchema | undefined {
  let s: AnySchema | undefined = root;
  let v: unknown = rootValue;
  for (const seg of path) {
    if (!s) return undefined;
    const d = defOf(unwrap(s, v));
    if (d.type === 'object' && d.shape) s = d.shape[String(seg)];
    else if (d.type === 'array' && d.element) s = d.element;
    else if (d.type === 'record' && d.valueType) s = d.valueType;
    else return undefined;
    v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[seg as string] : undefined;
  }
  return s ? unwrap(s, v) : undefined;
}

export function objectKeysAt(
  root: AnySchema,
  path: readonly PropertyKey[],
  value: unknown,
  rootValue: unknown,
): string[] {
  const s = schemaAt(root, path, rootValue);
  if (!s) return [];
  const d = defOf(unwrap(s, value));
  return d.type === 'object' && d.shape ? Object.keys(d.shape) : [];
}

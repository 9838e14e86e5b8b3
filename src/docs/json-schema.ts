import { z } from 'zod';
import { SECRET_KEYS } from '../config/interpolate.js';
import { configSchema } from '../config/schema.js';
import { createRegistry, ruleUnionSchema, type RuleTypeRegistry } from '../rules/registry.js';
import { ruleDefaultsSchema } from '../rules/rule-type.js';

/**
 * JSON Schemas for editors (yaml-language-server), generated from the zod schemas. Draft-07: what every
 * editor supports. The loader accepts `${VAR}` in any string and `<secret>_file` keys, so the schema does too:
 * it must never flag a file the loader accepts, and rejects unknown keys exactly where the loader does.
 */
type Node = Record<string, unknown>;

const INTERPOLATED = {
  type: 'string',
  pattern: '\\$\\{[A-Za-z_][A-Za-z0-9_]*(:[-?][^}]*)?\\}',
  description: '${VAR}, ${VAR:-default} or ${VAR:?message}, expanded at load time',
};
/** A whole-value ${VAR} where a number, boolean or list goes: read as that type (src/config/env-coerce.ts). */
const TYPED_VAR = {
  type: 'string',
  pattern: '^\\$\\{[A-Za-z_][A-Za-z0-9_]*(:[-?][^}]*)?\\}$',
  description: "${VAR} read as this field's type (numbers, true/false, lists as a,b,c)",
};
const DURATION = { type: 'string', pattern: '^\\s*(0|(\\d+(ms|s|m|h|d|w))+)\\s*$' };

function postProcess(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(postProcess);
  if (!node || typeof node !== 'object') return node;
  const n = Object.fromEntries(
    Object.entries(node as Node).map(([k, v]) => [
      k,
      k === 'properties' && v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([pk, pv]) => [pk, postProcess(pv)]))
        : postProcess(v),
    ]),
  ) as Node;
  if (n['format'] === 'duration') {
    const { format: _f, type: _t, ...rest } = n;
    return { ...rest, anyOf: [DURATION, { const: 0 }, INTERPOLATED] };
  }
  if (n['format'] === 'cron') delete n['format'];
  if (n['type'] === 'string' && (n['pattern'] !== undefined || n['enum'] !== undefined)) {
    const { description, default: dflt, ...rest } = n;
    return {
      ...(description !== undefined ? { description } : {}),
      ...(dflt !== undefined ? { default: dflt } : {}),
      anyOf: [rest, INTERPOLATED],
    };
  }
  if (['number', 'integer', 'boolean', 'array'].includes(n['type'] as string)) {
    const { description, default: dflt, ...rest } = n;
    return {
      ...(description !== undefined ? { description } : {}),
      ...(dflt !== undefined ? { default: dflt } : {}),
      anyOf: [rest, TYPED_VAR],
    };
  }
  // A choice of literals (e.g. server_major: 8 | 9 | "8" | "9") may also come from the environment.
  const alts = n['anyOf'] as Node[] | undefined;
  if (alts?.every((a) => 'const' in a)) n['anyOf'] = [...alts, INTERPOLATED];
  const props = n['properties'] as Record<string, Node> | undefined;
  if (props) {
    const required = (n['required'] as string[] | undefined) ?? [];
    for (const key of SECRET_KEYS) {
      if (!(key in props)) continue;
      props[`${key}_file`] = {
        type: 'string',
        description: `File holding ${key} (Docker/Kubernetes secret), instead of ${key}.`,
      };
      if (required.includes(key)) {
        n['required'] = required.filter((r) => r !== key);
        n['anyOf'] = [{ required: [key] }, { required: [`${key}_file`] }];
      }
    }
  }
  return n;
}

const toJson = (s: z.ZodType, id: string, title: string) => {
  const j = postProcess(z.toJSONSchema(s, { io: 'input', unrepresentable: 'any', target: 'draft-7' })) as Node;
  return { ...j, $id: id, title };
};

export function configJsonSchema(): Node {
  return toJson(configSchema, 'https://odoo-ha-watch/schemas/config.schema.json', 'odoo-ha-watch configuration file');
}

export function rulesJsonSchema(registry: RuleTypeRegistry = createRegistry()): Node {
  const file = z.strictObject({ defaults: ruleDefaultsSchema.optional(), rules: z.array(ruleUnionSchema(registry)) });
  return toJson(file, 'https://odoo-ha-watch/schemas/rules.schema.json', 'odoo-ha-watch rule file');
}

export const renderJsonSchema = (schema: Node) => `${JSON.stringify(schema, null, 2)}\n`;

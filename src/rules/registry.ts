import { z } from 'zod';
import { commonRuleFields, type RuleType } from './rule-type.js';
import { httpRule } from './types/http.js';

/** Every rule type, keyed by the `type:` users write. Source issues add their types here. */
export const RULE_TYPES: readonly RuleType<any>[] = [httpRule];

export type RuleTypeRegistry = ReadonlyMap<string, RuleType<any>>;

export function createRegistry(types: readonly RuleType<any>[] = RULE_TYPES): RuleTypeRegistry {
  return new Map(types.map((t) => [t.type, t]));
}

export function ruleSchemaFor(t: RuleType<any>) {
  return z.strictObject({ ...commonRuleFields, type: z.literal(t.type), ...t.shape });
}

/** One discriminated union over all types: the error for `type: htp` lists the valid types. */
export function ruleUnionSchema(registry: RuleTypeRegistry) {
  const schemas = [...registry.values()].map(ruleSchemaFor);
  return z.discriminatedUnion('type', schemas as unknown as [ReturnType<typeof ruleSchemaFor>, ...ReturnType<typeof ruleSchemaFor>[]]);
}

import { z } from 'zod';
import { commonRuleFields, type RuleType } from './rule-type.js';
import { httpRule } from './types/http.js';
import { logAnyRule } from './types/log-any.js';
import { logCronOverlapRule } from './types/log-cron-overlap.js';
import { logFlatlineRule } from './types/log-flatline.js';
import { logFrequencyRule } from './types/log-frequency.js';
import { logNewValueRule } from './types/log-new-value.js';
import { logSpikeRule } from './types/log-spike.js';
import { etcdHealthRule } from './types/etcd.js';
import { haproxyBackendRule, haproxyWriteBackendRule } from './types/haproxy.js';
import { patroniClusterRule, patroniLagRule, patroniLeaderRule, patroniMemberRule } from './types/patroni.js';
import { postgresHealthRule, postgresReplicationRule } from './types/postgres.js';
import { splitBrainRule } from './types/split-brain.js';
import { haWatchersRule } from './types/ha-watchers.js';

/** Every rule type, keyed by the `type:` users write. Source issues add their types here. */
export const RULE_TYPES: readonly RuleType<any>[] = [
  httpRule,
  logAnyRule,
  logFrequencyRule,
  logSpikeRule,
  logFlatlineRule,
  logNewValueRule,
  logCronOverlapRule,
  patroniLeaderRule,
  patroniMemberRule,
  patroniLagRule,
  patroniClusterRule,
  haproxyWriteBackendRule,
  haproxyBackendRule,
  postgresReplicationRule,
  postgresHealthRule,
  splitBrainRule,
  etcdHealthRule,
  haWatchersRule,
];

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
  return z.discriminatedUnion(
    'type',
    schemas as unknown as [ReturnType<typeof ruleSchemaFor>, ...ReturnType<typeof ruleSchemaFor>[]],
  );
}

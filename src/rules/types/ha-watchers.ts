import { z } from 'zod';
import { defineRuleType, recoveredByProblem, type Finding, type Unknown } from '../rule-type.js';

const CHECKS = ['watcher_lost', 'too_few', 'fail_open'] as const;

/**
 * The monitor of the monitor: every watcher evaluates it, the active one sends. A watcher whose
 * lease expired (killed, host down, cut from etcd) is reported by the others; so is failing open.
 */
export const haWatchersRule = defineRuleType({
  type: 'ha_watchers',
  summary:
    'The watchers themselves (config `ha:`): a watcher lost (its etcd lease expired), fewer watchers than expected, failing open because etcd is unreachable.',
  source: 'ha',
  shape: {
    checks: z.array(z.enum(CHECKS)).min(1).prefault(['watcher_lost', 'too_few', 'fail_open']),
    min_watchers: z
      .number()
      .int()
      .min(1)
      .prefault(2)
      .meta({ description: 'too_few: fewer watchers registered than this is reported.' }),
  },
  placeholders: {
    watcher: 'the watcher concerned (lost one, or the one failing open)',
    problem: 'watcher_lost | too_few | fail_open',
    watchers: 'the watchers registered now, with their roles',
    count: 'how many watchers are registered',
    detail: 'what is wrong, one line',
  },
  defaultMessage: '{{detail}}',
  recovered: recoveredByProblem(
    {
      watcher_lost:
        'watcher {{watcher}} is back (renewing its etcd lease) or was removed on purpose; watchers now: {{watchers}}',
      too_few: 'enough watchers again: {{watchers}}',
      fail_open: 'watcher {{watcher}} reaches etcd again: one active watcher sends, the others stand by',
    },
    'the watchers are all accounted for again',
  ),
  check: (_spec, config) =>
    (config as { ha?: unknown } | undefined)?.ha
      ? []
      : [
          {
            message:
              'this rule watches the watchers, which needs an "ha:" section in the config (several watchers on etcd)',
          },
        ],
  async evaluate(rule, ctx) {
    const ha = ctx.sources.ha;
    if (!ha)
      return {
        ok: false,
        source: 'ha',
        error: 'no ha: section in the config: there is one watcher and nothing to compare with',
      };
    const v = ha.view();
    const checks = new Set(rule.spec.checks);
    const findings: Finding[] = [];
    const unknown: Unknown[] = [];
    const watchers = v.watchers.map((w) => `${w.instance} ${w.role}`).join(', ');
    const count = v.watchers.length;
    if (checks.has('fail_open') && v.role === 'fail-open') {
      findings.push({
        labels: { watcher: v.instance, problem: 'fail_open' },
        values: {
          watcher: v.instance,
          problem: 'fail_open',
          watchers,
          count,
          detail: `watcher ${v.instance} cannot reach etcd (${v.etcdError ?? 'no answer'}) and no peer says it is active: it sends on its own — every watcher in this state sends its own copy of each alert`,
        },
      });
    }
    if (!v.etcdOk) {
      // Lost or few cannot be told without etcd: frozen, neither fired nor resolved.
      if (checks.has('watcher_lost'))
        unknown.push({ labels: { problem: 'watcher_lost' }, reason: `etcd unreachable: ${v.etcdError ?? '?'}` });
      if (checks.has('too_few'))
        unknown.push({ labels: { problem: 'too_few' }, reason: `etcd unreachable: ${v.etcdError ?? '?'}` });
      return { ok: true, findings, unknown };
    }
    if (checks.has('watcher_lost')) {
      for (const w of v.lost)
        findings.push({
          labels: { watcher: w, problem: 'watcher_lost' },
          values: {
            watcher: w,
            problem: 'watcher_lost',
            watchers,
            count,
            detail: `watcher ${w} stopped renewing its etcd lease (process or host down, or cut from etcd); left: ${watchers}`,
          },
        });
    }
    if (checks.has('too_few') && count < rule.spec.min_watchers) {
      findings.push({
        labels: { problem: 'too_few' },
        values: {
          watcher: '',
          problem: 'too_few',
          watchers,
          count,
          detail: `${count} watcher(s) registered, ${rule.spec.min_watchers} expected (${watchers}): one more failure and nothing alerts`,
        },
      });
    }
    return { ok: true, findings };
  },
});

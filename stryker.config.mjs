// @ts-check
// Mutation testing of the core (alerts, rule types, notify, store): do the unit tests fail when the
// code is wrong? Run with `npm run mutation -- <scope>` (scripts/mutation), not in CI: it is slow on
// 2 cores. The command runner runs the whole test command once per mutant, so each scope runs only
// the test files that exercise its folder; the full run ("all") mutates every folder against the
// union of those files.
import { existsSync } from 'node:fs';

/** Test files per mutated folder. Keep them narrow (seconds, not minutes): each survives ×N mutants.
 *  Left out on purpose: test/alerts/restart.test.ts (20 s, a real SIGKILLed process), the lab tests. */
const scopes = {
  alerts: {
    mutate: ['src/alerts/**/*.ts'],
    tests: [
      'test/alerts/concurrency.test.ts',
      'test/alerts/inhibit.test.ts',
      'test/alerts/lifecycle.test.ts',
      'test/alerts/mutation-gaps.test.ts',
    ],
  },
  rules: {
    mutate: ['src/rules/types/**/*.ts'],
    tests: [
      'test/rules/cluster-rules.test.ts',
      'test/rules/cluster-rule-types.test.ts',
      'test/rules/cluster-unknowns.test.ts',
      'test/elasticsearch/types.test.ts',
      'test/elasticsearch/log-rule-types.test.ts',
      'test/sources/postgres.test.ts',
      'test/rules/mutation-gaps.test.ts',
    ],
  },
  notify: {
    mutate: ['src/notify/**/*.ts'],
    tests: ['test/telegram/format.test.ts', 'test/telegram/delivery.test.ts', 'test/telegram/bot.test.ts'],
  },
  store: {
    mutate: ['src/store/**/*.ts'],
    tests: [
      'test/alerts/lifecycle.test.ts',
      'test/app/store-and-retire.test.ts',
      'test/elasticsearch/windows.test.ts',
      'test/telegram/delivery.test.ts',
    ],
  },
};

const scope = process.env.OHW_MUTATION_SCOPE ?? 'all';
/** @type {{ mutate: string[]; tests: string[] }} */
let picked;
if (scope === 'all') {
  const all = Object.values(scopes);
  picked = { mutate: all.flatMap((s) => s.mutate), tests: [...new Set(all.flatMap((s) => s.tests))] };
} else if (scope in scopes) {
  picked = scopes[/** @type {keyof typeof scopes} */ (scope)];
} else {
  throw new Error(`unknown mutation scope '${scope}': one of all, ${Object.keys(scopes).join(', ')}`);
}
// The mutation-gaps files are optional so a scope still runs while they do not exist yet.
const tests = picked.tests.filter((f) => existsSync(f));

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  mutate: picked.mutate,
  testRunner: 'command',
  // One process for all the scope's files (test/support/in-process.ts): half the time of `node --test`,
  // which starts tsx once per file. A failing test makes the exit code non-zero: the mutant is killed.
  commandRunner: { command: `node --import tsx --test-reporter=dot test/support/in-process.ts ${tests.join(' ')}` },
  // The command runner cannot tell which test covers which mutant: every mutant runs the command.
  coverageAnalysis: 'off',
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  concurrency: Number(process.env.OHW_MUTATION_CONCURRENCY ?? 1),
  // A re-run only tests mutants whose code or tests changed since the last report of the same scope.
  incremental: true,
  incrementalFile: `reports/mutation/${scope}.incremental.json`,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${scope}.html` },
  jsonReporter: { fileName: `reports/mutation/${scope}.json` },
  tempDirName: 'reports/.stryker-tmp',
  // The sandbox is a copy of the project: leave out state and build output.
  ignorePatterns: ['reports', 'dist', '.state', 'lab-state', '*.db', '*.db-wal', '*.db-shm'],
  timeoutMS: 10_000,
  cleanTempDir: 'always',
};

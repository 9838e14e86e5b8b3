/**
 * Runs one adversarial-input case in a worker thread, so a catastrophic regex makes the test fail on
 * its timeout (the worker is terminated) instead of hanging the suite.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { classifyCronLine } from '../../src/rules/types/log-cron-overlap.js';
import { trimSample } from '../../src/notify/format-text.js';
import { renderTemplate } from '../../src/rules/template.js';
import { formatSample } from '../../src/sources/elasticsearch/query.js';
import { parseStatsCsv } from '../../src/sources/haproxy/csv.js';
import { normalizeStatus } from '../../src/sources/haproxy/status.js';
import { escapeControl, truncate } from '../../src/util/text.js';

const N = 200_000;
const fill = (unit: string, tail = ''): string => unit.repeat(Math.ceil(N / unit.length)).slice(0, N) + tail;

export const CASES: Record<string, () => unknown> = {
  'cron: repeated "Job \'" without a closing quote': () => classifyCronLine({ message: fill("Job 'x") }),
  'cron: repeated \'Job "a" (\' with a long digit run': () =>
    classifyCronLine({ message: `${'Job "a" ('.repeat(1000)}${'9'.repeat(N)}` }),
  'cron: repeated "Starting job `" without a closing backtick': () =>
    classifyCronLine({ message: fill('Starting job `') }),
  'cron: finish wordings on a line of backticks and quotes': () =>
    classifyCronLine({ message: fill('Job `Job done: `Job "') }),
  'sample: 200 kB of trailing-whitespace bait': () => trimSample(fill(' ', 'x'), 300),
  'sample: formatSample of a 200 kB whitespace/emoji line': () => formatSample({ message: fill(' \t😀') }),
  'text: escapeControl/truncate on 200 kB of controls': () => truncate(escapeControl(fill('\x1b[\r\0')), 300),
  'template: 200 kB of unterminated placeholders': () =>
    [fill('{{ a '), `{{ ${fill(' ')}`, fill('{{')].map((t) => renderTemplate(t, { a: 'x' })),
  'haproxy: a 200 kB status field': () => normalizeStatus(fill('UP ', '1/')),
  'haproxy: a 200 kB CSV line': () => {
    try {
      return parseStatsCsv(`# pxname,svname\n${fill('a,')}\n`);
    } catch (e) {
      return (e as Error).message;
    }
  },
};

if (parentPort && (workerData as { redos?: boolean } | null)?.redos) {
  const port = parentPort;
  port.on('message', (name: string) => {
    CASES[name]!();
    port.postMessage(name);
  });
  port.postMessage('ready');
}

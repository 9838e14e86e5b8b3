/** Text from watched systems reaches the console, pino logs and samples inert and whole. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { Notification } from '../../src/alerts/notification.js';
import { createLogger } from '../../src/log.js';
import { createConsoleNotifier } from '../../src/notify/console.js';
import { trimSample } from '../../src/notify/format-text.js';
import { formatSample } from '../../src/sources/elasticsearch/query.js';

// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /(?:[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff])/;
const HOSTILE = 'boom \x1b[2J\x1b]0;pwned\x07 over\rwrite \0nul \x9bcsi';

function notification(sample: string, label: string): Notification {
  return {
    key: 'k',
    kind: 'firing',
    cluster: 'prod',
    at: 0,
    commonLabels: {},
    rule: { id: 'odoo-errors', name: 'Odoo errors', type: 'log_any', severity: 'critical' },
    alerts: [
      {
        fingerprint: 'f',
        shortId: 'abc123',
        labels: { host: label },
        values: {},
        message: `1 line: ${sample}`,
        samples: [sample],
        activeSince: 0,
        repeat: false,
      },
    ],
  } as Notification;
}

describe('console notifier', () => {
  it('escapes ESC, BEL, CR, NUL and C1 from messages, labels and samples; keeps line breaks', async () => {
    const out: string[] = [];
    const n = createConsoleNotifier({ write: (t) => out.push(t), now: () => 0 });
    await n.deliver(
      'console',
      [{ id: 1, receiver: 'console', notification: notification(HOSTILE, 'odoo1\x1b[31m') } as never],
      new AbortController().signal,
    );
    assert.equal(out.length, 1);
    assert.doesNotMatch(out[0]!, RAW_CONTROL);
    assert.match(out[0]!, /boom \\x1b\[2J\\x1b\]0;pwned\\x07 over\\rwrite \\0nul \\x9bcsi/);
    assert.match(out[0]!, /host=odoo1\\x1b\[31m/);
    assert.ok(out[0]!.split('\n').length > 3, 'the layout newlines are kept');
  });
});

describe('samples cut to a length never split a character', () => {
  it('formatSample: a 300-character cut through emoji leaves no lone surrogate, controls escaped', () => {
    for (let pad = 0; pad < 4; pad++) {
      const line = formatSample({
        '@timestamp': '2025-01-10T09:00:00.000Z',
        host: { name: 'odoo1' },
        message: `${'x'.repeat(pad)}${'😀'.repeat(400)}`,
      });
      assert.ok(line.length <= 300, `length ${line.length}`);
      assert.doesNotMatch(line, LONE_SURROGATE);
      assert.ok(line.endsWith('…'));
    }
    assert.doesNotMatch(formatSample({ message: HOSTILE }), RAW_CONTROL);
  });

  it('trimSample (console/plain text) cuts on a character boundary', () => {
    for (let max = 2; max < 12; max++) {
      const out = trimSample(`a${'😀'.repeat(10)}   `, max);
      assert.ok(out.length <= max);
      assert.doesNotMatch(out, LONE_SURROGATE);
    }
  });
});

describe('pino logs', () => {
  it('string fields are logged with control characters made visible (pino-pretty / jq -r print them decoded)', () => {
    const lines: string[] = [];
    const dest = new Writable({
      write(chunk, _e, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = createLogger({ level: 'info', destination: dest as never });
    log.warn(
      { rule: 'r1', labels: { host: 'odoo1\x1b[2J' }, error: `bad\rline\0`, samples: [HOSTILE] },
      'rule evaluation failed',
    );
    const o = JSON.parse(lines.join('')) as { labels: { host: string }; error: string; samples: string[] };
    assert.equal(o.labels.host, 'odoo1\\x1b[2J');
    assert.equal(o.error, 'bad\\rline\\0');
    assert.doesNotMatch(o.samples[0]!, RAW_CONTROL);
  });

  it('redaction still applies', () => {
    const lines: string[] = [];
    const dest = new Writable({
      write(chunk, _e, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    createLogger({ level: 'info', destination: dest as never }).info({ cfg: { password: 'hunter2' } }, 'x');
    assert.doesNotMatch(lines.join(''), /hunter2/);
  });
});

describe('error text quoting bodies from watched systems', () => {
  it('HAProxy CSV / Patroni / etcd errors quote the body escaped and cut whole', async () => {
    const { parseStatsCsv } = await import('../../src/sources/haproxy/csv.js');
    const body = `\x1b[2J${'😀'.repeat(100)}`;
    for (const text of [body, `# ${body}\n`]) {
      const e = (() => {
        try {
          parseStatsCsv(text);
        } catch (x) {
          return x as Error;
        }
        return undefined;
      })();
      assert.ok(e, 'throws');
      assert.doesNotMatch(e.message, RAW_CONTROL);
      assert.doesNotMatch(e.message, LONE_SURROGATE);
    }
  });
});

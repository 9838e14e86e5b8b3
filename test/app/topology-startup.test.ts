import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { createApp } from '../../src/app.js';
import type { HaproxyStats } from '../../src/sources/haproxy/status.js';
import { observed, type Observation } from '../../src/sources/observation.js';
import type { PatroniClusterState } from '../../src/sources/patroni/merge.js';
import type { Sources } from '../../src/sources/sources.js';
import { CapturingNotifier } from '../support/builders.js';
import { seedCluster, seedStats, type N } from '../support/seed-topology.js';

/** The seed as published (stats page without show-legends): one configuration warning per server at start-up, no notification. */
test('start-up: servers that match no Patroni member are logged once as configuration warnings with the fix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ohw-topo-app-'));
  mkdirSync(join(dir, 'rules'));
  writeFileSync(
    join(dir, 'config.yaml'),
    [
      'cluster: {name: t}',
      'rules: {paths: ["rules/*.yaml"]}',
      'state: {path: state.db}',
      'http: {enabled: false}',
      'sources:',
      '  patroni: { members: [{ name: pg-node-1, url: "http://127.0.0.1:1" }] }',
      '  haproxy: { stats_url: "http://127.0.0.1:1/stats" }',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'rules/wb.yaml'),
    'rules:\n  - { id: wb, type: haproxy_write_backend, severity: critical, every: 1s }\n',
  );
  const lines: { level: number; msg: string; topology?: string }[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(JSON.parse(chunk.toString()));
        cb();
      },
    }),
  );
  let polls = 0;
  const sources: Sources = {
    http: { probe: async () => ({ url: '', durationMs: 0 }) },
    patroni: { members: [], poll: async () => observed('patroni', seedCluster(1)) as Observation<PatroniClusterState> },
    haproxy: {
      writeBackend: 'pg_primary',
      poll: async () => {
        polls++;
        return observed(
          'haproxy',
          seedStats(1, (n: N) => ({ name: `pg${n}`, addr: '' })),
        ) as Observation<HaproxyStats>;
      },
    },
    async close() {},
  };
  const notifier = new CapturingNotifier();
  const app = await createApp({ configPath: join(dir, 'config.yaml'), logger, sources, notifiers: [notifier] });
  await app.start();
  try {
    const deadline = Date.now() + 10_000;
    while (lines.filter((l) => l.topology).length < 3 || polls < 3) {
      if (Date.now() > deadline) throw new Error(`no warnings: ${JSON.stringify(lines)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const warnings = lines.filter((l) => l.topology);
    assert.deepEqual(
      warnings.map((w) => w.level),
      [40, 40, 40],
    );
    assert.match(
      warnings[0]!.msg,
      /^configuration warning: pg_primary: HAProxy server pg1 \(no address\) matches no Patroni member .*stats show-legends/,
    );
    // The rule itself is unknown for the comparison (it evaluated at least twice): nothing was sent.
    assert.deepEqual(notifier.sent, []);
  } finally {
    await app.stop();
  }
  assert.equal(lines.filter((l) => l.topology).length, 3, 'once, not per evaluation');
});

/**
 * Failover drills on the real lab (root only; run with `source /work/tools/lab-env.sh K` for a private lab):
 * a switchover drill passes with RPO 0, an app-node drill passes, a drill on an unhealthy cluster is
 * refused, and a drill interrupted by a real crash (kill-primary mid-drill) reports the crash, not a pass.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadAll } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { formatReport } from '../../src/drill/measure.js';
import { runAndStore, type DrillRequest } from '../../src/drill/run.js';
import type { TimelineEvent } from '../../src/drill/types.js';
import { createSources, type Sources } from '../../src/sources/sources.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { LAB_SCRIPT, labSkipReason, nodeOf, startLab, type Lab, type MemberName } from '../support/lab.js';
import { labConfigYaml } from './cluster-harness.js';

const skip = labSkipReason();
const MIN = 60_000;

describe('failover drills on the real lab', { skip, concurrency: false, timeout: 10 * MIN }, () => {
  let lab: Lab;
  let config: Config;
  let sources: Sources;
  const store = new SqliteStore(':memory:');
  const drill = (req: DrillRequest, onEvent?: (e: TimelineEvent) => void) =>
    runAndStore({ config, sources, store, logger: silentLogger, ...(onEvent ? { onEvent } : {}) }, req);

  before(async () => {
    lab = await startLab();
    await lab.waitReady(120);
    const i = lab.info;
    const q = JSON.stringify;
    const yaml = [
      labConfigYaml(i).replace(
        /^ {2}patroni:\n {4}members:/m,
        `  patroni:\n    username: ${q(i.patroniAuth.user)}\n    password: ${q(i.patroniAuth.password)}\n    members:`,
      ),
      'drill:',
      `  write_dsn: ${q(i.pgSuperuserDsn)}`,
      `  read_dsn: ${q(i.pgReplicasDsn)}`,
      `  app_url: ${q(`${i.odooUrl}/`)}`,
      '  app_nodes:',
      `    - { server: odoo1, stop: [${q(LAB_SCRIPT)}, stop-app, "1"], start: [${q(LAB_SCRIPT)}, start-app, "1"] }`,
    ].join('\n');
    const file = join(mkdtempSync(join(tmpdir(), 'ohw-drill-')), 'config.yaml');
    writeFileSync(file, yaml);
    const r = loadAll(file);
    if (!r.ok) throw new Error(r.issues.map((x) => x.message).join('\n'));
    config = r.loaded.config;
    sources = createSources(config, silentLogger);
  });

  after(async () => {
    await sources?.close();
    await store.close();
  });

  test('a switchover drill passes with RPO 0, mutes its expected rules and is stored', async () => {
    const before = await lab.leader();
    const r = await drill({ kind: 'switchover', by: 'test' });
    const text = formatReport(r);
    assert.equal(r.outcome, 'PASS', text);
    const rpo = r.lines.find((l) => l.name.startsWith('RPO'))!;
    assert.equal(rpo.pass, true, text);
    assert.equal(r.probe!.missing, 0, text);
    assert.ok(r.probe!.writesAcked > 10, text);
    const after = await lab.leader();
    assert.notEqual(after, before);
    assert.equal(r.subject, `${before} → ${after}`);
    for (const name of ['HAProxy routes writes to the new leader', 'replicas back in sync'])
      assert.equal(r.lines.find((l) => l.name === name)?.pass, true, text);
    const muted = await store.listSilences();
    assert.ok(
      muted.some((s) => s.ruleId === 'patroni-switchover' && r.silences.includes(s.id)),
      'expected symptom muted',
    );
    assert.ok(
      !muted.some((s) => s.ruleId === 'split-brain' || s.ruleId === 'patroni-failover' || s.ruleId === 'etcd-quorum'),
      'the unexpected still pages',
    );
    assert.equal((await store.listDrills(5))[0]?.id, r.id);
    console.log(text);
  });

  test('an app-node drill passes: HAProxy takes the node out and back', async () => {
    const r = await drill({ kind: 'app-node', node: 1, by: 'test' });
    const text = formatReport(r);
    assert.equal(r.outcome, 'PASS', text);
    assert.ok(
      r.lines.every((l) => l.valueMs !== null),
      text,
    );
    console.log(text);
  });

  test('a drill on an unhealthy cluster is refused and says why', async () => {
    const leader = await lab.leader();
    const replica = ([1, 2, 3] as const).find((n) => n !== nodeOf(leader))!;
    await lab.stopNode(replica);
    try {
      const r = await drill({ kind: 'switchover', by: 'test' });
      assert.equal(r.outcome, 'REFUSED', formatReport(r));
      assert.ok(
        r.reasons.some((x) => x.includes(`pg-node-${replica}`)),
        r.reasons.join('; '),
      );
      assert.equal(await lab.leader(), leader, 'nothing was switched');
    } finally {
      await lab.startNode(replica);
      await lab.waitReady(120);
    }
  });

  test('a drill interrupted by a real crash reports INTERRUPTED (crash), never a pass', async () => {
    let killed: Promise<MemberName> | undefined;
    const r = await drill({ kind: 'switchover', by: 'test', baselineMs: 8000 }, (e) => {
      if (e.text.startsWith('probes started')) killed = lab.killPrimary();
    });
    const victim = await killed!;
    const text = formatReport(r);
    assert.equal(r.outcome, 'INTERRUPTED', text);
    assert.ok(
      r.reasons.some((x) => x.startsWith(`crash: ${victim}`)),
      text,
    );
    assert.ok(!r.lines.some((l) => l.pass === true && l.name.startsWith('RPO')), text);
    console.log(text);
    await lab.restartNode(victim);
  });
});

/**
 * Preflight against the real lab (root only): the healthy lab has nothing to fix; a wrong scope, a
 * wrong HAProxy backend name, a role without pg_monitor and a wrong password each give their finding.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { Config } from '../../src/config/schema.js';
import { loadAll } from '../../src/config/load.js';
import { formatFinding } from '../../src/preflight/finding.js';
import { runPreflight } from '../../src/preflight/preflight.js';
import { labSkipReason, startLab, type Lab } from '../support/lab.js';
import { labConfigYaml } from './cluster-harness.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const skip = labSkipReason();
const ROLE = 'ohw_preflight_nomonitor';

describe('preflight on the real lab', { skip, concurrency: false, timeout: 10 * 60_000 }, () => {
  let lab: Lab;
  let healthy: Config;
  const superuser = async (sql: string) => {
    const c = new pg.Client({ connectionString: lab.info.pgSuperuserDsn });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };

  before(async () => {
    lab = await startLab();
    await lab.waitReady(120);
    const file = join(mkdtempSync(join(tmpdir(), 'ohw-preflight-lab-')), 'config.yaml');
    writeFileSync(file, labConfigYaml(lab.info));
    const r = loadAll(file);
    assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => i.message).join('; '));
    healthy = r.loaded.config;
    await superuser(`DROP ROLE IF EXISTS ${ROLE}; CREATE ROLE ${ROLE} LOGIN PASSWORD 'nomonitor'`);
  });

  after(async () => {
    await superuser(`DROP ROLE IF EXISTS ${ROLE}`).catch(() => undefined);
  });

  /** The parsed healthy config with one edit (already-parsed values: durations are ms). */
  const variant = (edit: (c: Config) => void): Config => {
    const c = structuredClone(healthy);
    edit(c);
    return c;
  };

  test('the healthy lab: every source checked, nothing to fix', async () => {
    const r = await runPreflight(healthy, []);
    assert.deepEqual(r.checked, ['patroni', 'haproxy', 'postgres', 'etcd']);
    assert.deepEqual(r.findings.map(formatFinding), []);
  });

  test('a wrong scope', async () => {
    const r = await runPreflight(
      variant((c) => {
        c.cluster.name = 'odoo-prod';
      }),
      [],
    );
    assert.deepEqual(r.findings.map(formatFinding), [
      `ERROR patroni: Patroni answers with scope ${lab.info.scope} but cluster.name is odoo-prod: either these are another cluster's members or alerts would name the wrong cluster; fix: set cluster.name: ${lab.info.scope} if these are the members to watch, else point sources.patroni.members at cluster odoo-prod`,
    ]);
  });

  test('a wrong HAProxy backend name', async () => {
    const r = await runPreflight(
      variant((c) => {
        c.sources.haproxy!.write_backend = 'postgres_rw';
      }),
      [],
    );
    assert.deepEqual(r.findings.map(formatFinding), [
      "ERROR haproxy: backend postgres_rw (sources.haproxy.write_backend) is not in HAProxy's stats (backends: pg_primary, pg_replicas, odoo_workers, stats); fix: set sources.haproxy.write_backend to the backend name of haproxy.cfg",
    ]);
  });

  test('a role without pg_monitor, and a wrong password', async () => {
    const dsn = (i: 0 | 1, user: string, password: string) =>
      lab.info.pgNodeDsns[i].replace(/\/\/[^@]*@/, `//${user}:${password}@`);
    const r = await runPreflight(
      variant((c) => {
        c.sources.postgres!.nodes = [
          { name: 'pg-node-1', dsn: dsn(0, ROLE, 'nomonitor') },
          { name: 'pg-node-2', dsn: dsn(1, 'ohw_monitor', 'wrong') },
        ];
      }),
      [],
    );
    const target = (i: number) => `127.0.0.1:${lab.info.ports.pg[i]}`;
    assert.deepEqual(r.findings.map(formatFinding), [
      `ERROR postgres: role ${ROLE} on pg-node-1 (${target(0)}) is not a member of pg_monitor: replication, lag and slot columns read as NULL (unknown); fix: GRANT pg_monitor TO ${ROLE}; on the primary (or use a pg_monitor role in sources.postgres.nodes dsn)`,
      `ERROR postgres: PostgreSQL pg-node-2 (${target(1)}) refuses the login: password authentication failed for user "ohw_monitor"; fix: check user and password in its sources.postgres.nodes dsn, and pg_hba.conf on the node`,
    ]);
  });
});

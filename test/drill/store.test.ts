import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { DrillReport } from '../../src/drill/types.js';
import { MIGRATIONS, SqliteStore } from '../../src/store/sqlite-store.js';

const r = (id: string, startedAt: number, outcome: DrillReport['outcome'] = 'PASS'): DrillReport => ({
  id,
  kind: 'switchover',
  subject: 'pg1 → pg2',
  by: 'test',
  startedAt,
  endedAt: startedAt + 1000,
  outcome,
  reasons: [],
  lines: [],
  timeline: [{ t: 1, text: 'x' }],
  silences: [],
});

test('drills are stored and listed newest first; saving again updates', async () => {
  const s = new SqliteStore(':memory:');
  await s.saveDrill(r('a', 1000));
  await s.saveDrill(r('b', 3000, 'FAIL'));
  await s.saveDrill(r('c', 2000));
  await s.saveDrill({ ...r('c', 2000), outcome: 'INTERRUPTED' });
  const list = await s.listDrills(10);
  assert.deepEqual(
    list.map((x) => `${x.id}:${x.outcome}`),
    ['b:FAIL', 'c:INTERRUPTED', 'a:PASS'],
  );
  assert.deepEqual(list[1]!.timeline, [{ t: 1, text: 'x' }]);
  assert.equal((await s.listDrills(1)).length, 1);
  await s.close();
});

test('a store of the previous schema version migrates to the drills table, keeping its data', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'ohw-drill-store-')), 'state.db');
  const old = new SqliteStore(path);
  await old.addSilence({ id: 's1', matchers: {}, startsAt: 0, endsAt: 9e15, author: 'a', reason: '', createdAt: 0 });
  await old.close();
  // Roll it back to the version before the drills migration, as an older release left it: the
  // tables of that migration and of every later one dropped.
  const at = MIGRATIONS.findIndex((m) => m.includes('CREATE TABLE drills'));
  assert.ok(at > 0);
  const db = new Database(path);
  for (const m of MIGRATIONS.slice(at))
    for (const [, table] of m.matchAll(/CREATE TABLE (\w+)/g)) db.exec(`DROP TABLE ${table}`);
  db.pragma(`user_version = ${at}`);
  db.close();
  const s = new SqliteStore(path);
  assert.equal((await s.listSilences({ now: 1 })).length, 1);
  await s.saveDrill(r('z', 5));
  assert.equal((await s.listDrills(5))[0]?.id, 'z');
  await s.close();
  const ro = new SqliteStore(path, { readonly: true });
  assert.equal((await ro.listDrills(5)).length, 1);
  await ro.close();
});

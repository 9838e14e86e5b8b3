import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sampleFromEvaluation, samplesFromStatus, SERIES } from '../../src/series/samples.js';
import { SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite-store.js';
import type { StatusMember, StatusSnapshot } from '../../src/status/snapshot.js';

const member = (name: string, over: Partial<StatusMember> = {}): StatusMember => ({
  name,
  role: 'replica',
  state: 'streaming',
  timeline: 3,
  lagBytes: 0,
  lagSeconds: null,
  pgLagBytes: null,
  restReachable: true,
  inDcs: true,
  isLeader: false,
  failoverCandidate: true,
  pendingRestart: false,
  ...over,
});

test('samples from a status snapshot: lag per replica (bytes, seconds), the leader, the timeline, UP servers per backend; unknown values are left out', () => {
  const s: StatusSnapshot = {
    cluster: 'c',
    at: 0,
    alerts: { firing: 0, pending: 0 },
    sources: [],
    patroni: {
      ageMs: 0,
      leader: 'pg1',
      leaderHealthy: true,
      timeline: 3,
      paused: false,
      maximumLagOnFailoverBytes: 1,
      failoverCandidates: [],
      members: [
        member('pg1', { role: 'leader', isLeader: true, lagBytes: null }),
        member('pg2', { lagBytes: 4096, lagSeconds: 1.5 }),
        member('pg3', { lagBytes: null, pgLagBytes: 77 }),
        member('pg4', { lagBytes: null }),
      ],
    },
    haproxy: {
      ageMs: 0,
      write: { name: 'pg_primary', status: 'UP', up: 1, total: 3, servers: [] },
      apps: [{ name: 'odoo', status: 'UP', up: 2, total: 2, servers: [] }],
    },
  };
  const got = samplesFromStatus(s, 1000).map((x) => `${x.series}/${x.key}=${x.value}`);
  assert.deepEqual(got, [
    'leader/pg1=1',
    'lag_bytes/pg2=4096',
    'lag_seconds/pg2=1.5',
    'lag_bytes/pg3=77',
    'timeline/=3',
    'haproxy_up/pg_primary=1',
    'haproxy_up/odoo=2',
  ]);
});

test('a log rule evaluation counts matching lines, or findings when they carry no count; a failed one records nothing', () => {
  assert.deepEqual(
    sampleFromEvaluation(
      { id: 'r' },
      {
        ok: true,
        findings: [
          { labels: {}, values: { count: 12 } },
          { labels: { a: '1' }, values: { count: 3 } },
        ],
      },
      5,
    ),
    { series: SERIES.ruleCount, key: 'r', at: 5, value: 15 },
  );
  assert.equal(
    sampleFromEvaluation(
      { id: 'r' },
      {
        ok: true,
        findings: [
          { labels: {}, values: {} },
          { labels: {}, values: {} },
        ],
      },
      5,
    )?.value,
    2,
  );
  assert.equal(sampleFromEvaluation({ id: 'r' }, { ok: true, findings: [] }, 5)?.value, 0);
  assert.equal(sampleFromEvaluation({ id: 'r' }, { ok: false, source: 'elasticsearch', error: 'down' }, 5), undefined);
});

test('store: samples by series and range; compaction keeps the maximum per bucket and drops what is past retention', async () => {
  const store = new SqliteStore(':memory:');
  const step = 300_000;
  const raw = [];
  // 30 minutes of 15 s samples, values 0..119 for pg2, a constant for pg3.
  for (let i = 0; i < 120; i++)
    raw.push(
      { series: 'lag_bytes', key: 'pg2', at: i * 15_000, value: i },
      { series: 'lag_bytes', key: 'pg3', at: i * 15_000, value: 7 },
    );
  await store.addSamples([
    ...raw,
    { series: 'timeline', key: '', at: 0, value: 2 },
    { series: 'lag_bytes', key: 'pg2', at: 1, value: Number.NaN },
  ]);
  assert.equal((await store.samples('lag_bytes', 0, 29_999)).length, 4);
  assert.equal((await store.samples(['lag_bytes', 'timeline'], 0, 0)).length, 3);

  // Raw before 17.5 min: whole buckets [0,5), [5,10), [10,15) are folded; the bucket at 15 min stays raw.
  await store.compactSamples({ rawBefore: 1_050_000, step, dropBefore: -1 });
  const pg2 = await store.samples('lag_bytes', 0, 10_000_000).then((r) => r.filter((x) => x.key === 'pg2'));
  assert.deepEqual(
    pg2.filter((x) => x.step === step).map((x) => [x.at, x.value]),
    [
      [0, 19],
      [300_000, 39],
      [600_000, 59],
    ],
  );
  assert.equal(pg2.filter((x) => x.step === 0).length, 60);
  assert.equal(pg2.filter((x) => x.step === 0)[0]!.at, 900_000);

  // Compacting again with later raw samples in an already folded bucket keeps the max of both.
  await store.addSamples([{ series: 'lag_bytes', key: 'pg2', at: 10_000, value: 500 }]);
  await store.compactSamples({ rawBefore: 1_050_000, step, dropBefore: -1 });
  assert.equal((await store.samples('lag_bytes', 0, 0)).find((x) => x.key === 'pg2')?.value, 500);

  const removed = await store.compactSamples({ rawBefore: 1_050_000, step, dropBefore: 600_000 });
  assert.ok(removed >= 4);
  assert.equal((await store.samples(['lag_bytes', 'timeline'], 0, 599_999)).length, 0);
  await store.close();
});

test('migration: a store of the previous schema gains the samples table and keeps its rows', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'ohw-series-')), 's.db');
  const old = new Database(path);
  old.exec(
    'CREATE TABLE alerts (fingerprint TEXT PRIMARY KEY, short_id TEXT NOT NULL, rule_id TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL); CREATE TABLE silences (id TEXT PRIMARY KEY, ends_at INTEGER NOT NULL, data TEXT NOT NULL); CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, rule_id TEXT NOT NULL, data TEXT NOT NULL); CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, receiver TEXT NOT NULL, notification TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, created_at INTEGER NOT NULL, sent_at INTEGER, last_error TEXT, meta TEXT); CREATE TABLE cursors (rule_id TEXT PRIMARY KEY, value TEXT NOT NULL); CREATE TABLE deliveries (receiver TEXT NOT NULL, fingerprint TEXT NOT NULL, meta TEXT NOT NULL, PRIMARY KEY (receiver, fingerprint)); CREATE TABLE rule_health (rule_id TEXT PRIMARY KEY, data TEXT NOT NULL);',
  );
  old.exec(
    `INSERT INTO history (at, rule_id, data) VALUES (1, 'r', '${JSON.stringify({ fingerprint: 'f', ruleId: 'r', labels: {}, from: 'pending', to: 'firing', at: 1, message: 'm' })}')`,
  );
  old.pragma('user_version = 1');
  old.close();
  const store = new SqliteStore(path);
  assert.equal(store.schemaVersion, SCHEMA_VERSION);
  assert.equal((await store.history(10)).length, 1);
  await store.addSamples([{ series: 'lag_bytes', key: 'pg2', at: 5, value: 1 }]);
  assert.equal((await store.samples('lag_bytes', 0, 10)).length, 1);
  await store.close();
});

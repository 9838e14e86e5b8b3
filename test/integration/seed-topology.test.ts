/**
 * The seed's topology on the real lab (Patroni members pg-node-1..3, HAProxy servers pg1..pg3, as in
 * the seed's patroni.yml and haproxy.cfg): a healthy cluster watched with the shipped packs and inhibit
 * rules sends nothing at all, and a planned switchover sends no page. Before servers were matched to
 * members by address, this setup paged "pg_primary sends writes to pg1 but the Patroni leader is
 * pg-node-1" every 10–20 s. ~2 min on the lab.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildStatus } from '../../src/status/snapshot.js';
import { labSkipReason, nodeOf, startLab, type Lab } from '../support/lab.js';
import { ClusterHarness } from './cluster-harness.js';

const skip = labSkipReason();
const MIN = 60_000;
/** Evaluation passes (every rule, ~1 s apart) watched on the healthy cluster: longer than any `for:` on the write backend (10 s) and the 1 m ones. */
const HEALTHY_PASSES = 75;

describe('seed topology on the real lab: silent when healthy, no page on a switchover', {
  skip,
  concurrency: false,
  timeout: 10 * MIN,
}, () => {
  let lab: Lab;
  let h: ClusterHarness;

  before(async () => {
    lab = await startLab();
    await lab.waitReady(120);
    // Every shipped rule, etcd-member-count included: the lab runs three etcd members like the seed.
    h = new ClusterHarness(lab.info);
    h.start();
  });

  after(async () => {
    await h?.stop();
  });

  const list = (t0: number) =>
    h.sent.filter((s) => s.at >= t0).map((s) => `${s.kind} [${s.severity}] ${s.rule}: ${s.messages.join(' | ')}`);

  test('the lab uses the seed names: Patroni pg-node-N, HAProxy pgN', async () => {
    const leader = await lab.leader();
    assert.match(leader, /^pg-node-[123]$/);
    const s = await buildStatus(h.config, h.sources, h.store);
    assert.deepEqual(
      s.haproxy?.write?.servers.map((x) => x.name),
      ['pg1', 'pg2', 'pg3'],
    );
    assert.equal(s.haproxy?.write?.upServer, `pg${nodeOf(leader)}`);
    assert.equal(s.haproxy?.write?.upMember, leader);
  });

  test(`healthy cluster: nothing sent in ${HEALTHY_PASSES} evaluation passes`, async () => {
    const t0 = Date.now();
    await h.waitTicks(HEALTHY_PASSES, 3 * MIN);
    assert.deepEqual(list(t0), []);
  });

  test('planned switchover: the informational message only, no page while HAProxy catches up', async () => {
    const t0 = Date.now();
    const before = await lab.leader();
    const after = await lab.switchover();
    assert.notEqual(after, before);
    await h.waitFor(
      (s) => s.at >= t0 && s.rule === 'patroni-switchover' && s.kind === 'firing',
      MIN,
      'switchover message',
    );
    await lab.waitReady(60);
    // HAProxy now routes to the new leader; give the write backend's `for: 10s` twice over.
    await h.waitTicks(20, MIN);
    const pages = h.sent.filter((s) => s.at >= t0 && s.kind === 'firing' && s.severity !== 'info');
    assert.deepEqual(
      pages.map((s) => `${s.rule}: ${s.messages.join(' | ')}`),
      [],
      h.describe(),
    );
  });
});

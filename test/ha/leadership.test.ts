import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { Etcd3 } from 'etcd3';
import { decideRole, Leadership, type RoleFacts } from '../../src/ha/leadership.js';
import { formatWatchers, HaRuntime } from '../../src/ha/watchers.js';
import { haWatchersRule } from '../../src/rules/types/ha-watchers.js';
import { silentLogger } from '../../src/log.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { etcdSkipReason, startEtcdCluster, type EtcdCluster } from '../support/etcd-cluster.js';
import type { Rule } from '../../src/rules/rule-type.js';
import type { Sources } from '../../src/sources/sources.js';

const base: RoleFacts = {
  now: 100_000,
  ttlMs: 10_000,
  instance: 'obs-a',
  prevRole: 'standby',
  etcdOk: true,
  lastEtcdOkAt: 100_000,
  leaseValidUntil: 109_000,
  peers: [],
};

describe('decideRole (pure)', () => {
  it('active only while holding the leader key on a live lease', () => {
    assert.equal(decideRole({ ...base, leader: 'obs-a' }).role, 'active');
    assert.equal(decideRole({ ...base, leader: 'obs-b' }).role, 'standby');
    assert.equal(decideRole({ ...base, leader: 'obs-a', leaseValidUntil: 99_000 }).role, 'standby');
  });
  it('etcd unreachable: keeps active while the lease surely lives, then waits a TTL, then fails open', () => {
    const down = { ...base, etcdOk: false, lastEtcdOkAt: 95_000, leader: 'obs-a' };
    assert.equal(decideRole({ ...down, prevRole: 'active' }).role, 'active');
    assert.equal(decideRole({ ...down, prevRole: 'active', leaseValidUntil: 99_000 }).role, 'standby');
    assert.equal(
      decideRole({ ...down, prevRole: 'standby', lastEtcdOkAt: 80_000, leaseValidUntil: 0 }).role,
      'fail-open',
    );
  });
  it('etcd unreachable from here but a peer is active: stays standby (partition, not quorum loss)', () => {
    const d = decideRole({
      ...base,
      etcdOk: false,
      lastEtcdOkAt: 0,
      leaseValidUntil: 0,
      peers: [{ instance: 'obs-b', role: 'active', etcdOk: true }],
    });
    assert.equal(d.role, 'standby');
    assert.match(d.reason, /obs-b says it is active/);
    assert.equal(
      decideRole({
        ...base,
        etcdOk: false,
        lastEtcdOkAt: 0,
        leaseValidUntil: 0,
        peers: [{ instance: 'obs-b', role: 'fail-open', etcdOk: false }],
      }).role,
      'fail-open',
    );
  });
});

describe('leadership on a real 3-member etcd', { skip: etcdSkipReason() }, () => {
  let etcd: EtcdCluster;
  const made: Leadership[] = [];
  const clients: Etcd3[] = [];
  before(async () => {
    etcd = await startEtcdCluster(27650);
  });
  after(async () => {
    for (const l of made) await l.stop().catch(() => undefined);
    for (const c of clients) c.close();
    await etcd.down();
  });
  const make = (instance: string, hosts: string[], prefix: string) => {
    const client = new Etcd3({ hosts, defaultCallOptions: () => ({ deadline: Date.now() + 1000 }) });
    clients.push(client);
    const l = new Leadership({
      client,
      instance,
      prefix,
      ttlMs: 3000,
      timeoutMs: 1000,
      logger: silentLogger,
      tickMs: 200,
    });
    made.push(l);
    return l;
  };
  const waitRole = (l: Leadership, role: string, ms = 15_000) =>
    new Promise<void>((resolve, reject) => {
      if (l.role === role) return resolve();
      const t = setTimeout(() => reject(new Error(`${l.report().instance} still ${l.role}, wanted ${role}`)), ms);
      l.on('role', (r: string) => {
        if (r === role) {
          clearTimeout(t);
          resolve();
        }
      });
    });

  it('exactly one of two is active; a graceful stop hands over at once', async () => {
    const a = make('obs-a', etcd.urls, '/t1/');
    const b = make('obs-b', etcd.urls, '/t1/');
    a.start();
    await waitRole(a, 'active');
    b.start();
    await waitRole(b, 'standby');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(a.role, 'active');
    assert.equal(b.role, 'standby');
    assert.equal(formatWatchers(b.view().watchers), 'watchers: obs-a active, obs-b standby');
    await a.stop();
    await waitRole(b, 'active', 3000); // revoked lease: no TTL to wait
    await waitRole(a, 'standby');
    assert.deepEqual(b.view().lost, ['obs-a']);
    await b.stop();
  });

  it('a watcher whose only etcd member stops steps down; the other takes over', async () => {
    const a = make('obs-a', [etcd.urls[0]], '/t2/');
    const b = make('obs-b', [etcd.urls[1], etcd.urls[2]], '/t2/');
    a.start();
    await waitRole(a, 'active');
    b.start();
    await waitRole(b, 'standby');
    await etcd.stopMember(0);
    await waitRole(a, 'standby');
    await waitRole(b, 'active');
    await new Promise((r) => setTimeout(r, 5000)); // long enough for gRPC to back off
    await etcd.startMember(0);
    await etcd.waitHealthy(0);
    const end = Date.now() + 15_000;
    while (!a.view().etcdOk && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    assert.equal(a.view().etcdOk, true, `obs-a reaches etcd again: ${a.view().etcdError}`);
    assert.equal(a.role, 'standby');
    await a.stop();
    await b.stop();
  });

  it("HaRuntime pings the dead man's switch while active", async () => {
    const pings: number[] = [];
    const srv = createServer((_q, s) => {
      pings.push(Date.now());
      s.end('ok');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/ping`;
    const store = new SqliteStore(':memory:');
    const rt = new HaRuntime({
      ha: {
        instance: 'obs-d',
        endpoints: etcd.urls,
        prefix: '/t3/',
        lease_ttl: 3000,
        timeout: 1000,
        dead_mans_switch: { url, interval: 1000 },
      },
      local: store,
      logger: silentLogger,
      registry: new Registry(),
    });
    rt.start();
    try {
      const deadline = Date.now() + 15_000;
      while (pings.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok(pings.length >= 2, `pings: ${pings.length}`);
      assert.equal(rt.readiness().ok, true);
      assert.match(rt.readiness().detail ?? '', /dead man's switch ok/);
    } finally {
      await rt.stop();
      srv.close();
      await store.close();
    }
  });
});

describe('ha_watchers rule (monitor of the monitor)', () => {
  const rule = {
    id: 'w',
    spec: { checks: ['watcher_lost', 'too_few', 'fail_open'], min_watchers: 2 },
  } as unknown as Rule<never>;
  const ctx = (view: object) => ({
    now: new Date(),
    signal: new AbortController().signal,
    logger: silentLogger,
    sources: { ha: { view: () => view } } as unknown as Sources,
  });
  it('reports a lost watcher and too few watchers', async () => {
    const ev = await haWatchersRule.evaluate(
      rule,
      ctx({
        instance: 'obs-b',
        role: 'active',
        reason: '',
        etcdOk: true,
        watchers: [{ instance: 'obs-b', role: 'active', at: 0 }],
        lost: ['obs-a'],
        since: 0,
      }),
    );
    assert.ok(ev.ok);
    assert.deepEqual(
      ev.findings.map((f) => f.labels),
      [{ watcher: 'obs-a', problem: 'watcher_lost' }, { problem: 'too_few' }],
    );
  });
  it('failing open is a finding; lost/too_few are unknown without etcd', async () => {
    const ev = await haWatchersRule.evaluate(
      rule,
      ctx({
        instance: 'obs-b',
        role: 'fail-open',
        reason: '',
        etcdOk: false,
        etcdError: 'timeout',
        watchers: [],
        lost: [],
        since: 0,
      }),
    );
    assert.ok(ev.ok);
    assert.deepEqual(
      ev.findings.map((f) => f.labels['problem']),
      ['fail_open'],
    );
    assert.deepEqual(
      ev.unknown?.map((u) => u.labels['problem']),
      ['watcher_lost', 'too_few'],
    );
  });
  it('without ha: the rule cannot evaluate, and check() says why', async () => {
    const ev = await haWatchersRule.evaluate(rule, { ...ctx({}), sources: {} as Sources });
    assert.equal(ev.ok, false);
    assert.equal(haWatchersRule.check!(rule.spec as never, { sources: {} }).length, 1);
    assert.equal(haWatchersRule.check!(rule.spec as never, { ha: {} }).length, 0);
  });
});

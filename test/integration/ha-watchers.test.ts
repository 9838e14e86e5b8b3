/**
 * Several watchers, one active, on a real 3-member etcd: real service processes (the CLI `run`),
 * a loopback Bot API, loopback HTTP targets broken and repaired by the test. Runs in ~2 minutes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { etcdSkipReason, startEtcdCluster, type EtcdCluster } from '../support/etcd-cluster.js';
import { startFakeTelegram, type FakeTelegram } from '../support/fake-telegram.js';
import {
  startTarget,
  startWatcher,
  until,
  type HaWorld,
  type Target,
  type WatcherProc,
} from '../support/ha-watchers.js';

const CHAT = -100123;
const TOKEN = '123456:TEST';
const TTL = '4s';

describe('several watchers on etcd', { skip: etcdSkipReason(), timeout: 240_000 }, () => {
  let etcd: EtcdCluster;
  let tg: FakeTelegram;
  let t1: Target;
  let t2: Target;
  let world: HaWorld;
  const procs: Record<string, WatcherProc> = {};
  const port = { 'obs-a': 27620, 'obs-b': 27621 } as const;

  before(async () => {
    etcd = await startEtcdCluster(27600);
    tg = await startFakeTelegram({ token: TOKEN, maxPollMs: 3000 });
    t1 = await startTarget();
    t2 = await startTarget();
    world = {
      dir: mkdtempSync(join(tmpdir(), 'ohw-ha-it-')),
      apiRoot: tg.apiRoot,
      token: TOKEN,
      chatId: CHAT,
      targets: { 'web-down': t1.url, 'web2-down': t2.url },
    };
  });
  after(async () => {
    for (const p of Object.values(procs)) await p.kill9();
    await tg?.close();
    await t1?.close();
    await t2?.close();
    await etcd?.down();
    if (world) rmSync(world.dir, { recursive: true, force: true });
  });

  const start = async (name: 'obs-a' | 'obs-b', endpoints: readonly string[] = etcd.urls) => {
    procs[name] = await startWatcher(world, { instance: name, port: port[name], endpoints, leaseTtl: TTL });
    return procs[name]!;
  };
  const role = async (name: string) => (await procs[name]!.ha())?.role;
  const waitRole = async (name: string, r: string, ms = 30_000) => {
    try {
      await until(`${name} ${r}`, async () => (await role(name)) === r, ms, 200);
    } catch (e) {
      throw new Error(`${(e as Error).message}; /ha says ${JSON.stringify(await procs[name]!.ha())}`);
    }
  };
  const sent = (pred: (text: string) => boolean) => tg.messages(CHAT).filter((m) => m.fromBot && pred(m.text));
  const firing = (rule: string) => sent((t) => /\bFIRING\b/.test(t) && !/STILL/.test(t) && t.includes(`rule ${rule}`));
  const conflicts = () => tg.callsOf('getUpdates').filter((c) => c.status === 409).length;
  const botStarts = (p: WatcherProc) =>
    p
      .output()
      .split('\n')
      .filter((l) => l.includes('telegram bot started')).length;

  it('two watchers: exactly one is active, sends and polls', async () => {
    await start('obs-a');
    await waitRole('obs-a', 'active');
    await start('obs-b');
    await waitRole('obs-b', 'standby');
    const ha = await procs['obs-b']!.ha();
    assert.deepEqual(
      ha?.watchers.map((w) => `${w.instance} ${w.role}`),
      ['obs-a active', 'obs-b standby'],
    );
    t1.setUp(false);
    await until('firing sent', () => firing('web-down').length === 1);
    // Both evaluated it (hot standby); give the standby every chance to send a second copy.
    await until('standby evaluated it too', () => procs['obs-b']!.output().includes('web-down'), 10_000).catch(
      () => undefined,
    );
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(firing('web-down').length, 1, 'one FIRING, not one per watcher');
    assert.equal(botStarts(procs['obs-a']!), 1);
    assert.equal(botStarts(procs['obs-b']!), 0, 'the standby does not poll');
    assert.equal(conflicts(), 0, 'never a 409');
  });

  it('kill -9 of the active mid-incident: the standby completes the story, nothing repeated', async () => {
    const firingMsg = firing('web-down')[0]!;
    await procs['obs-a']!.kill9();
    t1.setUp(true); // the resolve is due while nobody is active
    await waitRole('obs-b', 'active', 20_000);
    const edit = await tg.waitForCall('editMessageText', (c) => c.params['message_id'] === firingMsg.messageId, 20_000);
    assert.match(String(edit.params['text']), /RESOLVED/);
    assert.equal(firing('web-down').length, 1, 'the firing was not repeated by the new active');
    await until('bot polling on the new active', () => botStarts(procs['obs-b']!) === 1, 15_000);
    assert.equal(conflicts(), 0);
  });

  it('the killed watcher restarts and rejoins as standby', async () => {
    // Restarted pointing at etcd member 0 only (used by the partition test below).
    await start('obs-a', [etcd.urls[0]]);
    await waitRole('obs-a', 'standby');
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(await role('obs-b'), 'active');
    assert.equal(botStarts(procs['obs-a']!), 0);
  });

  it('a silence set through one watcher mutes on the other', async () => {
    const mark = tg.mark();
    tg.pushCommand(CHAT, 42, '/silence web-down 30m maintenance');
    await tg.waitForCall('sendMessage', (c) => /silence/i.test(String(c.params['text'])), 15_000, { after: mark });
    await new Promise((r) => setTimeout(r, 2500)); // within seconds on every watcher
    await procs['obs-b']!.kill9();
    await waitRole('obs-a', 'active', 20_000);
    t1.setUp(false);
    // obs-a evaluates it firing (its /metrics says so) but sends nothing: the silence is in force there.
    await until(
      'obs-a sees web-down firing',
      async () => {
        const m = await (await fetch(`http://127.0.0.1:${port['obs-a']}/metrics`)).text();
        return /ohw_alerts\{state="firing"\} [1-9]/.test(m);
      },
      20_000,
      500,
    );
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(firing('web-down').length, 1, 'silenced on obs-a too: no new FIRING');
    await start('obs-b');
    await waitRole('obs-b', 'standby');
  });

  it('a watcher cut from etcd steps down; the other takes over', async () => {
    assert.equal(await role('obs-a'), 'active');
    // obs-a knows where obs-b answers (its registration) before it is cut off.
    await until(
      'obs-a sees obs-b',
      async () => (await procs['obs-a']!.ha())?.watchers.some((w) => w.instance === 'obs-b'),
      20_000,
      200,
    );
    await etcd.stopMember(0); // obs-a's only endpoint
    await waitRole('obs-b', 'active', 20_000);
    await waitRole('obs-a', 'standby', 20_000);
    await new Promise((r) => setTimeout(r, 6000)); // > lease_ttl: still standby (obs-b says it is active), not failing open
    assert.equal(await role('obs-a'), 'standby');
    assert.equal(conflicts(), 0);
  });

  it('quorum loss: every watcher fails open and sends, each copy marked with its name', async () => {
    await etcd.startMember(0);
    await etcd.waitHealthy(0);
    await until('obs-a reaches etcd again', async () => (await procs['obs-a']!.ha())?.etcdOk, 20_000, 200);
    await etcd.stopMember(1);
    await etcd.stopMember(2);
    await waitRole('obs-a', 'fail-open', 40_000);
    await waitRole('obs-b', 'fail-open', 40_000);
    const ready = await fetch(`http://127.0.0.1:${port['obs-a']}/readyz`);
    assert.equal(ready.status, 503, '/readyz says failing open');
    t2.setUp(false);
    await until('a copy from each watcher', () => firing('web2-down').length >= 2, 20_000);
    const via = firing('web2-down')
      .map((m) => /sent by watcher (\S+)/.exec(m.text)?.[1])
      .sort();
    assert.deepEqual(via, ['obs-a', 'obs-b']);
  });
});

/**
 * Takeover time of several watchers on etcd: two real service processes (default lease_ttl 10s,
 * rules every 1s) on a real 3-member etcd, a loopback Bot API. Each round: an HTTP target goes down,
 * the active watcher sends FIRING; the active is killed with -9 and the target comes back at the same
 * moment; takeover = kill → the RESOLVE reaching the Bot API (sent by the standby that took over).
 * The killed watcher is restarted (standby) before the next round.
 *
 *   npx tsx bench/ha-takeover.ts [--kills N]      (default 10; etcd on ports 27640-27645)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startEtcdCluster } from '../test/support/etcd-cluster.js';
import { startFakeTelegram } from '../test/support/fake-telegram.js';
import { startTarget, startWatcher, until, type HaWorld, type WatcherProc } from '../test/support/ha-watchers.js';

const { values } = parseArgs({ options: { kills: { type: 'string', default: '10' } } });
const kills = Number(values.kills);
const CHAT = -100777;
const TOKEN = '654321:BENCH';

const etcd = await startEtcdCluster(27640);
const tg = await startFakeTelegram({ token: TOKEN, maxPollMs: 3000 });
const target = await startTarget();
const world: HaWorld = {
  dir: mkdtempSync(join(tmpdir(), 'ohw-ha-bench-')),
  apiRoot: tg.apiRoot,
  token: TOKEN,
  chatId: CHAT,
  targets: { 'bench-down': target.url },
};
const ports: Record<string, number> = { 'obs-a': 27660, 'obs-b': 27661 };
const procs: Record<string, WatcherProc> = {};
const start = async (name: string) => {
  procs[name] = await startWatcher(world, { instance: name, port: ports[name]!, endpoints: etcd.urls });
};
const roleOf = async (name: string) => (await procs[name]!.ha())?.role;
/** sendMessage calls answered 200 whose text matches (edits do not change these counts). */
const count = (re: RegExp) =>
  tg.callsOf('sendMessage').filter((c) => c.status === 200 && re.test(String(c.params['text']))).length;
const resolves = () =>
  tg.callsOf('editMessageText').filter((c) => c.status === 200 && /RESOLVED/.test(String(c.params['text']))).length +
  count(/RESOLVED/);

const samples: number[] = [];
let repeats = 0;
try {
  await start('obs-a');
  await until('obs-a active', async () => (await roleOf('obs-a')) === 'active', 30_000, 200);
  await start('obs-b');
  await until('obs-b standby', async () => (await roleOf('obs-b')) === 'standby', 30_000, 200);
  for (let i = 0; i < kills; i++) {
    const active = (await roleOf('obs-a')) === 'active' ? 'obs-a' : 'obs-b';
    const standby = active === 'obs-a' ? 'obs-b' : 'obs-a';
    const firingBefore = count(/\bFIRING\b/);
    target.setUp(false);
    await until('FIRING sent', () => count(/\bFIRING\b/) > firingBefore, 30_000, 50);
    await new Promise((r) => setTimeout(r, 1500)); // the standby has evaluated it firing too
    const resolvedBefore = resolves();
    const firingAfter = count(/\bFIRING\b/);
    const t0 = Date.now();
    await procs[active]!.kill9();
    target.setUp(true);
    await until('RESOLVED sent by the standby', () => resolves() > resolvedBefore, 60_000, 50);
    const took = Date.now() - t0;
    samples.push(took);
    if (count(/\bFIRING\b/) > firingAfter) repeats++;
    process.stdout.write(
      `kill ${i + 1}/${kills}: ${active} killed, ${standby} sent the resolve after ${(took / 1000).toFixed(1)} s\n`,
    );
    await start(active);
    await until(`${active} standby`, async () => (await roleOf(active)) === 'standby', 30_000, 200);
  }
} finally {
  for (const p of Object.values(procs)) await p.kill9();
  await tg.close();
  await target.close();
  await etcd.down();
  rmSync(world.dir, { recursive: true, force: true });
}
const sorted = [...samples].sort((a, b) => a - b);
const median =
  sorted.length % 2
    ? sorted[(sorted.length - 1) / 2]!
    : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
process.stdout.write(
  `\ntakeover (kill -9 of the active → resolve delivered by the standby), lease_ttl 10s, rules every 1s, ${samples.length} kills:\n`,
);
process.stdout.write(
  `  median ${(median / 1000).toFixed(1)} s, min ${(sorted[0]! / 1000).toFixed(1)} s, max ${(sorted.at(-1)! / 1000).toFixed(1)} s; repeated FIRING: ${repeats}\n`,
);
process.exit(0);

/**
 * The chaos fault kinds. Each one injects its fault through scripts/lab (or the loopback Bot API /
 * the service process), holds it until its effect is visible (a page, a new leader) or a bound
 * passes, and recovers. It records what it did in the cycle's record; the runner then waits for a
 * healthy lab and lets the incidents settle.
 */
import { chmodSync, existsSync, openSync, closeSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FakeTelegram } from '../../test/support/fake-telegram.js';
import { nodeOf, type Lab, type MemberName, type NodeNumber } from '../../test/support/lab.js';
import type { ServiceProcess } from './service.js';
import type { CycleRecord } from './timeline.js';

export interface Rng {
  next(): number;
  int(lo: number, hi: number): number;
  pick<T>(xs: readonly T[]): T;
}

/** mulberry32: tiny, seedable, good enough to choose faults reproducibly. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
  };
}

export interface FaultContext {
  lab: Lab;
  telegram: FakeTelegram;
  service: ServiceProcess;
  rng: Rng;
  log: (line: string) => void;
  /** the state store's dir when it is on its own small tmpfs (disk-full kind), else undefined */
  stateTmpfs?: string;
}

export interface FaultKind {
  name: string;
  planned: boolean;
  expectPage: boolean;
  /** cheap enough for the CI run (no failover, no long holds) */
  cheap?: boolean;
  /** why it cannot run here (e.g. no tmpfs), or undefined */
  unavailable?: (ctx: FaultContext) => string | undefined;
  run(ctx: FaultContext, rec: CycleRecord): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bounded wait for a delivered first page (a sendMessage that is no reply) at or after `since`. */
export async function waitForPage(tg: FakeTelegram, since: number, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = tg.calls.find(
      (c) =>
        c.method === 'sendMessage' && c.at >= since && c.status === 200 && c.params['reply_parameters'] === undefined,
    );
    if (hit) return hit.at;
    if (Date.now() >= deadline) return undefined;
    await sleep(250);
  }
}

/** Bounded wait for a delivered message saying a failover completed. */
async function waitForFailoverMessage(tg: FakeTelegram, since: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      tg.calls.some(
        (c) => c.at >= since && c.status === 200 && /failover completed/i.test(String(c.params['text'] ?? '')),
      )
    )
      return;
    await sleep(250);
  }
}

/** Polls every member's /cluster until a running leader other than `old` shows; records when. */
async function waitForNewLeader(
  lab: Lab,
  old: string,
  rec: CycleRecord,
  timeoutMs: number,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const url of lab.info.patroniUrls) {
      try {
        const r = await fetch(`${url}/cluster`, { signal: AbortSignal.timeout(800) });
        const body = (await r.json()) as { members?: { name: string; role: string; state: string }[] };
        const l = body.members?.find((m) => m.role === 'leader' && m.name !== old && m.state === 'running');
        if (l) {
          rec.leaderVisibleAt ??= Date.now();
          return l.name;
        }
      } catch {
        // a killed or hung member: ask the next one
      }
    }
    await sleep(200);
  }
  return undefined;
}

async function replicas(lab: Lab): Promise<NodeNumber[]> {
  const leader = nodeOf(await lab.leader());
  return ([1, 2, 3] as NodeNumber[]).filter((n) => n !== leader);
}

/** Fault, then hold until a page (or `holdMs`), plus `afterMs` for follow-ups, then recover. */
async function holdForPage(ctx: FaultContext, rec: CycleRecord, holdMs: number, afterMs = 5_000): Promise<void> {
  const at = await waitForPage(ctx.telegram, rec.faultAt, holdMs);
  if (at !== undefined) await sleep(afterMs);
}

/** A crash of the primary in some form: wait for the new leader and the failover message, then restart the old node. */
function primaryCrash(name: string, labCmd: string): FaultKind {
  return {
    name,
    planned: false,
    expectPage: true,
    async run(ctx, rec) {
      rec.faultAt = Date.now();
      const out = await ctx.lab.run([labCmd], 90_000);
      const old = out.stdout.trim().split('\n').pop()!.trim() as MemberName;
      rec.target = old;
      const next = await waitForNewLeader(ctx.lab, old, rec, 120_000);
      if (next === undefined) throw new Error(`no new leader within 120 s after ${labCmd} of ${old}`);
      await waitForFailoverMessage(ctx.telegram, rec.faultAt, 30_000);
      await sleep(5_000);
      rec.recoverAt = Date.now();
      await ctx.lab.restartNode(old);
    },
  };
}

export const FAULT_KINDS: FaultKind[] = [
  primaryCrash('kill-primary', 'kill-primary'),
  primaryCrash('kill-patroni', 'kill-patroni'),
  primaryCrash('term-patroni', 'term-patroni'),
  {
    name: 'kill-postmaster',
    planned: false,
    expectPage: true,
    async run(ctx, rec) {
      rec.faultAt = Date.now();
      const out = await ctx.lab.run(['kill-postmaster'], 30_000);
      rec.target = out.stdout.trim().split('\n').pop()!.trim();
      // Patroni restarts PostgreSQL in its next loop (or a replica takes over): hold for the page.
      await holdForPage(ctx, rec, 60_000);
      rec.recoverAt = Date.now();
      await ctx.lab.restartNode(rec.target as MemberName); // no-op when Patroni is alive
    },
  },
  {
    name: 'switchover',
    planned: true,
    expectPage: false,
    cheap: false,
    async run(ctx, rec) {
      rec.faultAt = Date.now();
      const old = await ctx.lab.leader();
      rec.target = old;
      await ctx.lab.switchover();
      await waitForNewLeader(ctx.lab, old, rec, 30_000);
      await sleep(15_000);
      rec.recoverAt = Date.now();
    },
  },
  {
    name: 'pause-stop-node',
    planned: true,
    expectPage: false,
    async run(ctx, rec) {
      const n = ctx.rng.pick(await replicas(ctx.lab));
      rec.target = `pg-node-${n}`;
      rec.faultAt = Date.now();
      await ctx.lab.pause();
      await ctx.lab.stopNode(n);
      await sleep(40_000);
      rec.recoverAt = Date.now();
      await ctx.lab.startNode(n);
      await ctx.lab.resume();
    },
  },
  {
    name: 'replica-lag',
    planned: false,
    expectPage: true,
    async run(ctx, rec) {
      const n = ctx.rng.pick(await replicas(ctx.lab));
      rec.target = `pg-node-${n}`;
      rec.faultAt = Date.now();
      await ctx.lab.lag(n);
      // real write load past maximum_lag_on_failover (1 MiB): 4 MiB, then a trickle while held
      await ctx.lab.write(4096);
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline && (await waitForPage(ctx.telegram, rec.faultAt, 5_000)) === undefined)
        await ctx.lab.write(64);
      await sleep(5_000);
      rec.recoverAt = Date.now();
      await ctx.lab.unlag(n);
    },
  },
  {
    name: 'hang-replica',
    planned: false,
    expectPage: true,
    async run(ctx, rec) {
      const n = ctx.rng.pick(await replicas(ctx.lab));
      rec.target = `pg-node-${n}`;
      rec.faultAt = Date.now();
      await ctx.lab.run(['hang-node', String(n)], 30_000);
      try {
        await holdForPage(ctx, rec, 90_000);
      } finally {
        rec.recoverAt = Date.now();
        await ctx.lab.run(['unhang-node', String(n)], 30_000);
      }
    },
  },
  {
    name: 'hang-rest',
    planned: false,
    expectPage: true,
    async run(ctx, rec) {
      const n = ctx.rng.pick(await replicas(ctx.lab));
      rec.target = `pg-node-${n}`;
      rec.faultAt = Date.now();
      await ctx.lab.run(['hang-rest', String(n)], 30_000);
      try {
        await holdForPage(ctx, rec, 90_000);
      } finally {
        rec.recoverAt = Date.now();
        await ctx.lab.run(['unhang-rest', String(n)], 30_000);
      }
    },
  },
  {
    name: 'etcd-member-down',
    planned: false,
    expectPage: true,
    async run(ctx, rec) {
      const i = ctx.rng.int(1, 3);
      rec.target = `etcd${i}`;
      rec.faultAt = Date.now();
      await ctx.lab.run(['stop-etcd', String(i)], 30_000);
      try {
        await holdForPage(ctx, rec, 90_000);
      } finally {
        rec.recoverAt = Date.now();
        await ctx.lab.run(['start-etcd', String(i)], 30_000);
      }
    },
  },
  {
    name: 'etcd-quorum-loss',
    planned: false,
    expectPage: true,
    async run(ctx, rec) {
      const keep = ctx.rng.int(1, 3);
      const stop = [1, 2, 3].filter((i) => i !== keep);
      rec.target = `etcd${stop.join('+')}`;
      rec.faultAt = Date.now();
      for (const i of stop) await ctx.lab.run(['stop-etcd', String(i)], 30_000);
      try {
        await holdForPage(ctx, rec, 90_000, 20_000);
      } finally {
        rec.recoverAt = Date.now();
        for (const i of stop) await ctx.lab.run(['start-etcd', String(i)], 30_000);
      }
    },
  },
  {
    name: 'worker-down',
    planned: false,
    expectPage: true,
    cheap: true,
    async run(ctx, rec) {
      await workerDown(ctx, rec, async () => undefined);
    },
  },
  {
    name: 'haproxy-reload',
    planned: true,
    expectPage: false,
    cheap: true,
    async run(ctx, rec) {
      rec.faultAt = Date.now();
      await ctx.lab.run(['reload-haproxy'], 30_000);
      await sleep(10_000); // two HAProxy check rounds: a server wrongly DOWN after the reload would show
      rec.recoverAt = Date.now();
    },
  },
  // The Bot API misbehaving while an incident is told: a worker down + back, with the API failing.
  botApi('botapi-429', (tg) => tg.fail('sendMessage', { status: 429, retryAfter: 3 }, 2)),
  botApi('botapi-5xx', (tg) => tg.fail('sendMessage', { status: 502 }, 2)),
  botApi('botapi-drop', (tg) => tg.fail('sendMessage', { status: 'reset' }, 2)),
  {
    name: 'service-kill',
    planned: false,
    expectPage: true,
    async run(ctx, rec) {
      // kill -9 the service between the page and the resolve; the restarted one must resolve it, once.
      await workerDown(ctx, rec, async () => {
        const killedAt = Date.now();
        await ctx.service.kill9();
        await ctx.service.start();
        rec.serviceRestarts ??= [];
        rec.serviceRestarts.push({ killedAt, startedAt: Date.now() });
      });
    },
  },
  {
    name: 'disk-full',
    planned: false,
    expectPage: true,
    unavailable: (ctx) =>
      ctx.stateTmpfs === undefined ? 'the state store is not on its own tmpfs (needs root and mount)' : undefined,
    async run(ctx, rec) {
      const filler = join(ctx.stateTmpfs!, 'filler');
      rec.target = ctx.stateTmpfs!;
      fillDisk(filler);
      try {
        await workerDown(ctx, rec, async () => undefined);
      } finally {
        rmSync(filler, { force: true });
      }
    },
  },
];

/** Stop one Odoo worker, hold until the page, run `during`, start it again. */
async function workerDown(ctx: FaultContext, rec: CycleRecord, during: () => Promise<void>): Promise<void> {
  const a = ctx.rng.int(1, 2) as 1 | 2;
  rec.target = `odoo${a}`;
  rec.faultAt = Date.now();
  await ctx.lab.stopApp(a);
  try {
    await holdForPage(ctx, rec, 90_000, 3_000);
    await during();
  } finally {
    rec.recoverAt = Date.now();
    await ctx.lab.startApp(a);
  }
}

function botApi(name: string, inject: (tg: FakeTelegram) => void): FaultKind {
  return {
    name,
    planned: false,
    expectPage: true,
    cheap: true,
    async run(ctx, rec) {
      inject(ctx.telegram); // the first page meets the failures…
      await workerDown(ctx, rec, async () => inject(ctx.telegram)); // …and so does the resolve
    },
  };
}

/** Writes zeros until the filesystem refuses (ENOSPC). */
function fillDisk(path: string): void {
  if (!existsSync(dirname(path))) throw new Error(`${dirname(path)} does not exist`);
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
    chmodSync(path, 0o600);
  }
}

/**
 * Failover benchmark on the real lab (root; `npm run bench -- --runs 5`).
 *
 * The service's pipeline runs in this process: the shipped rule packs (patroni, haproxy, postgres,
 * etcd) at their shipped intervals with the real sources, the real Scheduler, AlertEngine, SQLite
 * store and OutboxWorker, delivering to a notifier that records when it is handed each notification.
 * Two detection modes, one after the other in the same run (issue 11: the shipped default beside the
 * baseline a user would otherwise have): `events` — PostgreSQL sentinel connections and the etcd
 * watch on Patroni's leader key make the cluster rules evaluate at once (evaluation.on_cluster_events,
 * on by default) — and `polling`, the rules' own ticks only. Per run:
 *   (c) an idle window of steady polling on a healthy cluster: RSS sampled every second, CPU from
 *       process.cpuUsage() over the window;
 *   (a) `scripts/lab kill-primary` (SIGKILL of the leader's Patroni + postmaster) → the first
 *       notification handed to the notifier;
 *   (b) a new leader visible in `/cluster` (this script polls every member's /cluster and /patroni
 *       every 150 ms) → the "failover completed" notification handed to the notifier;
 * then the old primary is restarted and the run waits for a healthy cluster and the incident's
 * resolve before the next one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AlertEngine } from '../src/alerts/engine.js';
import type { Notification } from '../src/alerts/notification.js';
import { loadAll } from '../src/config/load.js';
import { silentLogger } from '../src/log.js';
import type { DeliveryResult, Notifier } from '../src/notify/notifier.js';
import { OutboxWorker } from '../src/notify/outbox-worker.js';
import { createRegistry } from '../src/rules/registry.js';
import { Scheduler } from '../src/scheduler.js';
import { CLUSTER_POLL_TTL_MS, createSources } from '../src/sources/sources.js';
import { startClusterEvents } from '../src/sources/events/cluster-events.js';
import { ClusterTrigger } from '../src/cluster-trigger.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import type { OutboxItem } from '../src/store/store.js';
import { labConfigYaml } from '../test/integration/cluster-harness.js';
import { labSkipReason, startLab, type Lab, type MemberName } from '../test/support/lab.js';

const USAGE =
  'npm run bench -- [--runs N] [--idle-seconds S] [--detect events|polling|both]   (as root; = tsx bench/failover.ts …)';
const CLUSTER_POLL_MS = 150;
const MIN = 60_000;

const out = (s = '') => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const iso = (t: number) => new Date(t).toISOString();

interface Handed {
  at: number;
  n: Notification;
}

/** Records the moment each notification is handed over (what a real notifier would start sending). */
class TimingNotifier implements Notifier {
  readonly name = 'bench';
  readonly handed: Handed[] = [];
  receivers(): string[] {
    return [this.name];
  }
  async deliver(_receiver: string, items: OutboxItem[]): Promise<Map<number, DeliveryResult>> {
    const at = Date.now();
    const res = new Map<number, DeliveryResult>();
    for (const i of items) {
      this.handed.push({ at, n: i.notification });
      res.set(i.id, { ok: true });
    }
    return res;
  }
  /** Bounded wait for a handed notification at or after `since` that matches. */
  async waitFor(since: number, pred: (n: Notification) => boolean, timeoutMs: number, what: string): Promise<Handed> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.handed.find((h) => h.at >= since && pred(h.n));
      if (hit) return hit;
      if (Date.now() >= deadline)
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; handed since ${iso(since)}:\n${this.describe(since)}`,
        );
      await sleep(50);
    }
  }
  describe(since = 0): string {
    return (
      this.handed
        .filter((h) => h.at >= since)
        .map((h) => `  ${iso(h.at)} ${h.n.kind} ${h.n.rule.id}: ${h.n.alerts.map((a) => a.message).join(' | ')}`)
        .join('\n') || '  (nothing)'
    );
  }
}

const isFailoverDone = (n: Notification) =>
  n.rule.id === 'patroni-failover' && n.kind === 'firing' && n.alerts.some((a) => a.labels['event'] === 'failover');

interface ClusterWatch {
  stop(): void;
  /** first moment some member's /cluster named a leader other than the old one (any state) */
  visible?: number;
  /** ... and showed it `running` */
  running?: number;
  /** first moment that leader's own /patroni said role primary (promotion done: writes possible) */
  promoted?: number;
  leader?: string;
}

/**
 * Polls every member's /cluster and /patroni every CLUSTER_POLL_MS and records when a leader other
 * than `old` first appears in /cluster, when it is first shown running, and when it reports itself primary.
 */
function watchCluster(members: readonly { name: string; url: string }[], old: string): ClusterWatch {
  let stopped = false;
  const w: ClusterWatch = { stop: () => (stopped = true) };
  const get = async <T>(url: string): Promise<T> =>
    (await (await fetch(url, { signal: AbortSignal.timeout(1000) })).json()) as T;
  const earliest = (cur: number | undefined, at: number) => (cur === undefined || at < cur ? at : cur);
  void (async () => {
    while (!stopped) {
      const started = Date.now();
      await Promise.all(
        members.map(async (m) => {
          try {
            const [cluster, self] = await Promise.all([
              get<{ members?: { name: string; role: string; state: string }[] }>(`${m.url}/cluster`),
              get<{ role?: string; state?: string }>(`${m.url}/patroni`),
            ]);
            const at = Date.now();
            const l = cluster.members?.find(
              (x) => (x.role === 'leader' || x.role === 'standby_leader') && x.name !== old,
            );
            if (l) {
              w.visible = earliest(w.visible, at);
              w.leader ??= l.name;
              if (l.state === 'running') w.running = earliest(w.running, at);
            }
            if (m.name !== old && (self.role === 'master' || self.role === 'primary') && self.state === 'running')
              w.promoted = earliest(w.promoted, at);
          } catch {
            // the killed member refuses; a busy one may time out — next poll
          }
        }),
      );
      await sleep(Math.max(0, CLUSTER_POLL_MS - (Date.now() - started)));
    }
  })();
  return w;
}

function stats(xs: number[]): { median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length === 0 ? NaN : s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, max: s.length ? s[s.length - 1]! : NaN };
}

interface RunResult {
  old: MemberName;
  next: string;
  killToFirstMs: number;
  firstRule: string;
  killToLeaderVisibleMs: number;
  visibleToNotifiedMs: number;
  promotedToNotifiedMs: number;
  killToFailoverNotifiedMs: number;
  cpuPct: number;
  rssMaxMb: number;
}

async function idleMinute(ms: number, rssSamples: number[]): Promise<{ cpuPct: number; rssMaxMb: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let rssMax = 0;
  while (performance.now() - t0 < ms) {
    await sleep(1000);
    const rss = process.memoryUsage().rss / 1048576;
    rssSamples.push(rss);
    rssMax = Math.max(rssMax, rss);
  }
  const cpu = process.cpuUsage(cpu0);
  return { cpuPct: ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100, rssMaxMb: rssMax };
}

type Detect = 'polling' | 'events';

interface ModeResult {
  mode: Detect;
  results: RunResult[];
  rssSamples: number[];
  events: number;
}

/**
 * One detection mode on the lab: the service's pipeline with the shipped rule intervals, and in
 * `events` mode the PostgreSQL sentinels and the etcd leader-key watch driving the cluster rules
 * (what `evaluation.on_cluster_events: true`, the shipped default, does); `polling` is the baseline
 * a user gets with it off: the rules' own ticks only.
 */
async function runMode(mode: Detect, lab: Lab, runs: number, idleMs: number): Promise<ModeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'ohw-bench-'));
  writeFileSync(join(dir, 'config.yaml'), labConfigYaml(lab.info));
  const loaded = loadAll(join(dir, 'config.yaml'));
  if (!loaded.ok) throw new Error(loaded.issues.map((i) => `${i.file}:${i.line}: ${i.message}`).join('\n'));
  const config = loaded.loaded.config;
  const rules = loaded.loaded.rules.filter((r) => r.enabled);
  const registry = createRegistry();
  const sources = createSources(config, silentLogger);
  const store = new SqliteStore(join(dir, 'state.db'));
  const notifier = new TimingNotifier();
  const outbox = new OutboxWorker({ store, notifiers: [notifier], logger: silentLogger });
  const engine = new AlertEngine({
    store,
    notifiers: [notifier],
    cluster: config.cluster.name,
    logger: silentLogger,
    failingAfterMs: config.evaluation.failing_source_after,
    inhibit: config.inhibit,
    onCommitted: () => outbox.kick(),
  });
  const scheduler = new Scheduler({ engine, registry, sources, store, logger: silentLogger });
  let events = 0;
  const trigger = new ClusterTrigger({
    evaluateNow: (f) => scheduler.evaluateNow(f),
    sourceOf: (r) => registry.get(r.type)?.source,
    refresh: () => sources.refresh?.(),
    logger: silentLogger,
    onEvent: () => events++,
  });
  scheduler.start(rules);
  outbox.start();
  const clusterEvents =
    mode === 'events'
      ? startClusterEvents(config, { onEvent: (e) => trigger.handle(e), logger: silentLogger })
      : undefined;
  const failover = rules.find((r) => r.id === 'patroni-failover');
  out(
    `bench [${mode}]: ${rules.length} rules from rules/{patroni,haproxy,postgres,etcd}.yaml at their shipped intervals (patroni-failover every ${(failover?.every ?? 0) / 1000} s); ${runs} run(s)`,
  );

  const results: RunResult[] = [];
  const rssSamples: number[] = [];
  let pendingRestart: MemberName | undefined;
  try {
    for (let i = 1; i <= runs; i++) {
      await lab.waitReady(180);
      // The previous incident must be over: no firing patroni-failover alert.
      const quietBy = Date.now() + 3 * MIN;
      while (
        (await store.alertsForRule('patroni-failover')).some((a) => a.state === 'firing' || a.state === 'pending')
      ) {
        if (Date.now() > quietBy) throw new Error('patroni-failover still firing 3 min after the cluster was ready');
        await sleep(500);
      }

      out(`[${mode}] run ${i}/${runs}: idle ${idleMs / 1000} s of steady polling…`);
      const idle = await idleMinute(idleMs, rssSamples);

      const old = await lab.leader();
      const watch = watchCluster(
        lab.info.patroniUrls.map((url, k) => ({ name: `pg-node-${k + 1}`, url })),
        old,
      );
      const before = Date.now();
      const killed = await lab.run(['kill-primary'], 30_000);
      pendingRestart = old;
      // scripts/lab prints the moment right after kill(2): "killed leader pg-node-N at 2026-…Z"
      const m = /killed leader pg-node-\d at (\S+Z)/.exec(killed.stderr);
      const tKill = m?.[1] !== undefined && Number.isFinite(Date.parse(m[1])) ? Date.parse(m[1]) : before;

      const first = await notifier.waitFor(tKill, () => true, 2 * MIN, 'the first notification after the kill');
      const done = await notifier.waitFor(tKill, isFailoverDone, 3 * MIN, 'the failover-completed notification');
      const by = Date.now() + 10_000;
      while (
        (watch.visible === undefined || watch.running === undefined || watch.promoted === undefined) &&
        Date.now() < by
      )
        await sleep(50);
      watch.stop();
      if (watch.visible === undefined)
        throw new Error('notified of the failover, but no new leader was ever seen in /cluster');

      const r: RunResult = {
        old,
        next: watch.leader ?? '?',
        killToFirstMs: first.at - tKill,
        firstRule: `${first.n.rule.id}${first.n.alerts[0] ? ` (${first.n.alerts[0].labels['event'] ?? first.n.kind})` : ''}`,
        killToLeaderVisibleMs: watch.visible - tKill,
        visibleToNotifiedMs: done.at - watch.visible,
        promotedToNotifiedMs: done.at - (watch.promoted ?? watch.running ?? watch.visible),
        killToFailoverNotifiedMs: done.at - tKill,
        cpuPct: idle.cpuPct,
        rssMaxMb: idle.rssMaxMb,
      };
      results.push(r);
      out(
        `[${mode}] run ${i}/${runs}: ${old} killed → ${r.next}; first notification after ${(r.killToFirstMs / 1000).toFixed(2)} s [${r.firstRule}]; ` +
          `leader in /cluster after ${(r.killToLeaderVisibleMs / 1000).toFixed(1)} s, failover notification ${r.visibleToNotifiedMs} ms later ` +
          `(${r.promotedToNotifiedMs} ms after it reported itself primary); idle CPU ${r.cpuPct.toFixed(2)} %, RSS max ${r.rssMaxMb.toFixed(1)} MiB`,
      );

      await lab.restartNode(old);
      pendingRestart = undefined;
      await lab.waitReady(180);
      await notifier.waitFor(
        tKill,
        (n) => n.rule.id === 'patroni-failover' && n.kind === 'resolved',
        4 * MIN,
        `the resolve once ${old} rejoined`,
      );
    }
  } finally {
    if (pendingRestart !== undefined)
      await lab
        .restartNode(pendingRestart)
        .catch((e: unknown) => process.stderr.write(`bench: restarting ${pendingRestart} failed: ${String(e)}\n`));
    trigger.cancel();
    await clusterEvents?.stop();
    await scheduler.stop();
    await outbox.stop();
    await sources.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { mode, results, rssSamples, events };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      'idle-seconds': { type: 'string', default: '60' },
      detect: { type: 'string', default: 'both' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    out(
      `usage: ${USAGE}\n  --runs N           failovers to measure per detection mode (default 5)\n  --idle-seconds S   steady-polling window for RSS/CPU per run (default 60)\n  --detect MODE      events (shipped), polling (baseline) or both, side by side (default)`,
    );
    return 0;
  }
  const runs = Number(values.runs);
  const idleMs = Number(values['idle-seconds']) * 1000;
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: expected a positive integer, got ${values.runs}`);
  if (!Number.isFinite(idleMs) || idleMs < 1000)
    throw new Error(`--idle-seconds: expected >= 1, got ${values['idle-seconds']}`);
  const modes: Detect[] =
    values.detect === 'both'
      ? ['polling', 'events']
      : values.detect === 'events' || values.detect === 'polling'
        ? [values.detect]
        : [];
  if (modes.length === 0) throw new Error(`--detect: expected events, polling or both, got ${values.detect}`);
  const skip = labSkipReason();
  if (skip !== undefined) {
    process.stderr.write(`bench: cannot run: ${skip}\n`);
    return 2;
  }

  const command = `npm run bench -- --runs ${runs}${idleMs === 60_000 ? '' : ` --idle-seconds ${idleMs / 1000}`}${values.detect === 'both' ? '' : ` --detect ${values.detect}`}`;
  out(`bench: ${command}`);
  out('bench: starting the lab (scripts/lab up; reuses a running one)…');
  const lab: Lab = await startLab();
  await lab.waitReady(180);
  const measured: ModeResult[] = [];
  for (const mode of modes) measured.push(await runMode(mode, lab, runs, idleMs));

  out('');
  out(
    `failover benchmark: ${runs} run(s) per mode, shipped rule intervals (cluster polls shared for ${CLUSTER_POLL_TTL_MS} ms), /cluster polled by the bench every ${CLUSTER_POLL_MS} ms; median / max`,
  );
  const cell = (xs: number[], digits: number) => {
    const st = stats(xs);
    return `${st.median.toFixed(digits)} / ${st.max.toFixed(digits)}`;
  };
  const header = [
    'metric',
    ...measured.map((m) => (m.mode === 'events' ? 'events (shipped)' : 'polling only (baseline)')),
    'target',
  ];
  out(`| ${header.join(' | ')} |`);
  out(`|${header.map(() => '---').join('|')}|`);
  const row = (name: string, f: (r: RunResult) => number, digits: number, target: string) =>
    out(`| ${name} | ${measured.map((m) => cell(m.results.map(f), digits)).join(' | ')} | ${target} |`);
  row('P1 kill -9 of the primary → first notification (s)', (r) => r.killToFirstMs / 1000, 2, 'median ≤ 0.5, max ≤ 1');
  row('P2 new leader in /cluster → failover notification (s)', (r) => r.visibleToNotifiedMs / 1000, 2, '≤ 0.1');
  row('new leader reports primary → failover notification (s)', (r) => r.promotedToNotifiedMs / 1000, 2, '');
  row('kill → new leader in /cluster (Patroni ttl) (s)', (r) => r.killToLeaderVisibleMs / 1000, 1, '');
  row('idle CPU of the bench process (% of one core)', (r) => r.cpuPct, 2, '≤ 1');
  out(`| RSS while polling (MiB) | ${measured.map((m) => cell(m.rssSamples, 1)).join(' | ')} | |`);
  out(`| cluster events seen | ${measured.map((m) => String(m.events)).join(' | ')} | |`);
  out(`command: ${command} (as root)`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);

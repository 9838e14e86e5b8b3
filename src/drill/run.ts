/**
 * Runs a drill end to end: preconditions, mute the expected symptoms, probes, the action (Patroni
 * switchover through its REST API, or stopping an Odoo node), watching the cluster until it is whole
 * again, then the report (stored in the `drills` table). Anything the drill did not cause (a member
 * whose Patroni stops answering, an unexpected leader) stops it as INTERRUPTED: never a false pass.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Silence } from '../alerts/silences.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Sources } from '../sources/sources.js';
import { clusterStatus, type HaproxyStatus, type PatroniStatus } from '../status/snapshot.js';
import type { StateStore } from '../store/store.js';
import { bucketize, durationLine, infoLine, longestGap, missingWrites, outcomeOf, rpoLine } from './measure.js';
import { checkPreconditions, isStreaming } from './preconditions.js';
import {
  ensureProbeTable,
  readBack,
  startHttpProbe,
  startReadProbe,
  startWriteProbe,
  type Probe,
  type WriteProbe,
} from './probes.js';
import type { DrillKind, DrillLine, DrillReport, TimelineEvent } from './types.js';

export interface DrillDeps {
  config: Config;
  sources: Sources;
  store: StateStore;
  logger: Logger;
  now?: () => number;
  /** Told about each timeline event as it happens (CLI progress; tests act on them). */
  onEvent?: (e: TimelineEvent) => void;
  /** Runs an app node's stop/start command (default: execFile, no shell). */
  runCommand?: (argv: readonly string[]) => Promise<void>;
  /** Cluster watch interval (default 250 ms). */
  pollMs?: number;
}

export type DrillRequest =
  | { kind: 'switchover'; to?: string; by: string; baselineMs?: number }
  | { kind: 'app-node'; node: number; by: string; baselineMs?: number };

/** One drill at a time in this process: two would measure each other. */
let running: string | undefined;
export const drillRunning = (): string | undefined => running;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function defaultRunCommand(argv: readonly string[]): Promise<void> {
  // Resolved on 'exit', not 'close': a start command that leaves a daemon behind keeps the pipes open.
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      if (stderr.length < 4000) stderr += b.toString();
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(' ')}: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      child.stderr.destroy();
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `${argv.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
          ),
        );
    });
  });
}

/** What a drill will do, in words, before it is confirmed (the bot's button names it). */
export function describeDrill(
  config: Config,
  req: { kind: DrillKind; to?: string; node?: number },
  leader?: string,
): string {
  const d = config.drill;
  const mutes = req.kind === 'switchover' ? d.mute.switchover : d.mute.app_node;
  if (req.kind === 'switchover') {
    return (
      `Planned switchover of the primary ${leader ?? '(current leader)'} → ${req.to ?? 'the best replica'} through Patroni's REST API. ` +
      `Clients lose writes for a few seconds. A probe writes a row every ${d.probe_interval} ms into ${d.probe_table} through HAProxy. ` +
      `Muted for the drill (+${Math.round(d.mute_grace / 1000)} s): ${mutes.join(', ')}.`
    );
  }
  const n = req.node !== undefined ? d.app_nodes[req.node - 1] : undefined;
  return (
    `Stop Odoo node ${req.node}${n ? ` (${n.server}: ${n.stop.join(' ')})` : ''}, measure how long users see errors through ${d.app_url ?? 'the Odoo frontend'}, then start it again. ` +
    `Muted for the drill (+${Math.round(d.mute_grace / 1000)} s): ${mutes.join(', ')}.`
  );
}

interface Watch {
  patroni?: PatroniStatus;
  haproxy?: HaproxyStatus;
}

export async function runDrill(deps: DrillDeps, req: DrillRequest): Promise<DrillReport> {
  const now = deps.now ?? Date.now;
  const id = `${new Date(now()).toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(3).toString('hex')}`;
  if (running)
    return refused(
      deps,
      id,
      req,
      now(),
      [`drill ${running} is still running`],
      req.kind === 'switchover' ? 'switchover' : `app node ${req.node}`,
    );
  running = id;
  try {
    return await runLocked(deps, req, id, now);
  } finally {
    running = undefined;
  }
}

async function refused(
  deps: DrillDeps,
  id: string,
  req: DrillRequest,
  at: number,
  reasons: string[],
  subject: string,
): Promise<DrillReport> {
  const r: DrillReport = {
    id,
    kind: req.kind,
    subject,
    by: req.by,
    startedAt: at,
    endedAt: at,
    outcome: 'REFUSED',
    reasons,
    lines: [],
    timeline: [],
    silences: [],
  };
  await deps.store
    .saveDrill(r)
    .catch((e: unknown) => deps.logger.warn({ err: e }, 'drill: could not store the refusal'));
  deps.logger.warn({ drill: id, reasons }, 'drill refused');
  return r;
}

async function runLocked(deps: DrillDeps, req: DrillRequest, id: string, now: () => number): Promise<DrillReport> {
  const { config, logger } = deps;
  const d = config.drill;
  const log = logger.child({ drill: id });
  const pollMs = deps.pollMs ?? 250;

  // --- preconditions ---
  const appNode = req.kind === 'app-node' ? d.app_nodes[req.node - 1] : undefined;
  const appBackend = d.app_backend ?? config.sources.haproxy?.app_backends?.[0];
  const status = await clusterStatus(deps.sources, now());
  const firing = await deps.store.listAlerts(['firing']);
  const setup: string[] = [];
  if (!config.sources.patroni) setup.push('sources.patroni is not configured');
  if (!config.sources.haproxy) setup.push('sources.haproxy is not configured');
  if (req.kind === 'switchover' && !d.write_dsn)
    setup.push('drill.write_dsn is not configured (the write probe goes through the HAProxy write frontend)');
  if (req.kind === 'app-node') {
    if (!appNode) setup.push(`no app node ${req.node} in drill.app_nodes (${d.app_nodes.length} configured)`);
    if (!d.app_url) setup.push('drill.app_url is not configured (the probe goes through the Odoo frontend)');
  }
  const backend = appBackend ?? status.haproxy?.apps[0]?.name;
  const subject0 =
    req.kind === 'switchover'
      ? `${status.patroni?.leader ?? '?'} → ${req.to ?? 'best replica'}`
      : (appNode?.server ?? `app node ${req.node}`);
  if (setup.length) return refused(deps, id, req, now(), setup, subject0);
  const pre = checkPreconditions({
    kind: req.kind,
    ...(status.patroni ? { patroni: status.patroni } : {}),
    ...(status.haproxy ? { haproxy: status.haproxy } : {}),
    firing,
    ...(req.kind === 'switchover' && req.to !== undefined ? { to: req.to } : {}),
    ...(appNode && backend ? { app: { backend, server: appNode.server } } : {}),
  });
  if (!pre.ok) return refused(deps, id, req, now(), pre.reasons, subject0);
  const oldLeader = pre.leader;
  const candidate = pre.candidate;
  const subject = req.kind === 'switchover' ? `${oldLeader} → ${candidate}` : appNode!.server;

  // --- mute the expected symptoms ---
  const t0 = now();
  const timeline: TimelineEvent[] = [];
  const event = (text: string, at = now()) => {
    const e = { t: at - t0, text };
    timeline.push(e);
    log.info({ t: e.t }, `drill: ${text}`);
    deps.onEvent?.(e);
  };
  const mutes = req.kind === 'switchover' ? d.mute.switchover : d.mute.app_node;
  const silences: Silence[] = mutes.map((ruleId) => ({
    id: `${id.slice(-6)}${randomBytes(2).toString('hex')}`,
    ruleId,
    matchers: {},
    startsAt: t0,
    endsAt: t0 + d.timeout + d.mute_grace,
    author: `drill ${id} (${req.by})`,
    reason: `failover drill ${req.kind} ${subject}: expected symptom`,
    createdAt: t0,
  }));
  for (const s of silences) await deps.store.addSilence(s);
  event(`drill ${req.kind} ${subject} started by ${req.by}; muted ${mutes.length} rule(s) for its duration`);

  // --- probes ---
  let write: WriteProbe | undefined;
  let read: Probe | undefined;
  let http: Probe | undefined;
  const reasons: string[] = [];
  let interrupted = false;
  let failed = false;
  let missingCount = 0;
  let tProbes = t0;
  /** An app node the drill stopped and has not started again: started in `finally`, whatever happened. */
  let appLeftStopped: readonly string[] | undefined;
  try {
    if (req.kind === 'switchover') {
      await ensureProbeTable(d.write_dsn!, d.probe_table);
      write = startWriteProbe({
        dsn: d.write_dsn!,
        table: d.probe_table,
        drillId: id,
        intervalMs: d.probe_interval,
        now,
      });
      if (d.read_dsn) read = startReadProbe({ dsn: d.read_dsn, intervalMs: d.probe_interval, now });
      tProbes = now();
      event(
        `probes started: a write every ${d.probe_interval} ms through the write frontend${read ? ', a read through the read frontend' : ''}`,
      );
    } else {
      http = startHttpProbe({ url: d.app_url!, intervalMs: d.probe_interval, now });
      tProbes = now();
      event(`probe started: GET ${d.app_url} every ${d.probe_interval} ms`);
    }

    // --- watch: crash detection shared by both kinds ---
    const startMembers = new Set(status.patroni!.members.filter((m) => m.restReachable).map((m) => m.name));
    // Since when each member (or '*': every member) has been silent; reset by one good answer.
    const silentSince = new Map<string, number>();
    const silentFor = (key: string, silent: boolean, at: number): number => {
      if (!silent) {
        silentSince.delete(key);
        return 0;
      }
      if (!silentSince.has(key)) silentSince.set(key, at);
      return at - silentSince.get(key)!;
    };
    const watch = async (): Promise<Watch> => {
      const s = await clusterStatus(deps.sources, now());
      const at = now();
      if (silentFor('*', !s.patroni, at) >= d.crash_after && !interrupted) {
        interrupted = true;
        reasons.push('crash: no Patroni member answers any more');
        event('CRASH detected: no Patroni member answers');
      }
      if (!s.patroni) return {};
      for (const m of s.patroni.members) {
        if (!startMembers.has(m.name)) continue;
        // A demoting member's REST API can be slow for seconds under load: only silence that lasts is a crash.
        if (silentFor(m.name, !m.restReachable || m.state === 'crashed', at) >= d.crash_after && !interrupted) {
          interrupted = true;
          reasons.push(
            `crash: ${m.name} ${m.restReachable ? `PostgreSQL ${m.state}` : 'stopped answering (Patroni REST API unreachable)'} for ${Math.round(d.crash_after / 1000)} s — not part of the drill`,
          );
          event(
            `CRASH detected: ${m.name} ${m.restReachable ? m.state : 'not answering'} since +${((silentSince.get(m.name)! - t0) / 1000).toFixed(1)}s`,
          );
        }
      }
      const leader = s.patroni.leader;
      if (leader && leader !== oldLeader && leader !== candidate && req.kind === 'switchover' && !interrupted) {
        interrupted = true;
        reasons.push(`unexpected leader ${leader} (the drill moved ${oldLeader} → ${candidate})`);
        event(`UNEXPECTED leader ${leader}`);
      }
      if (req.kind === 'app-node' && leader !== oldLeader && !interrupted) {
        interrupted = true;
        reasons.push(`the database leader changed (${oldLeader} → ${leader ?? 'none'}) during an app-node drill`);
        event(`UNEXPECTED leader change: ${leader ?? 'none'}`);
      }
      return { ...(s.patroni ? { patroni: s.patroni } : {}), ...(s.haproxy ? { haproxy: s.haproxy } : {}) };
    };

    const deadline = t0 + d.timeout;
    const baselineEnd = now() + (req.baselineMs ?? d.baseline);
    while (now() < baselineEnd && !interrupted) {
      await watch();
      await sleep(Math.min(pollMs, Math.max(0, baselineEnd - now())));
    }

    const lines: DrillLine[] = [];
    let tEnd = now();
    if (req.kind === 'switchover' && !interrupted) {
      // --- the switchover, through the REST API of the leader ---
      const member = config.sources.patroni!.members.find((m) => m.name === oldLeader);
      const user = d.patroni?.username ?? config.sources.patroni!.username;
      const pass = d.patroni?.password ?? config.sources.patroni!.password ?? '';
      const tReq = now();
      event(`switchover requested: POST ${member?.url ?? '?'}/switchover leader=${oldLeader} candidate=${candidate}`);
      let requestDone = false;
      let requestError: string | undefined;
      void fetch(`${(member?.url ?? '').replace(/\/+$/, '')}/switchover`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(user ? { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` } : {}),
        },
        body: JSON.stringify({ leader: oldLeader, candidate }),
        signal: AbortSignal.timeout(d.timeout),
      })
        .then(
          async (r) => {
            const text = (await r.text()).trim().slice(0, 200);
            if (r.ok) event(`Patroni answered ${r.status}: ${text}`);
            else {
              requestError = `Patroni refused the switchover (${r.status}): ${text}`;
              event(requestError);
            }
          },
          (e: unknown) => {
            requestError = `switchover request failed: ${(e as Error).message}`;
            event(requestError);
          },
        )
        .finally(() => {
          requestDone = true;
        });

      let tLeader: number | undefined;
      let tRouting: number | undefined;
      let tSync: number | undefined;
      let errorPolls = 0;
      while (!interrupted) {
        const w = await watch();
        const at = now();
        const p = w.patroni;
        if (tLeader === undefined && p !== undefined && p.leader === candidate && p.leaderHealthy) {
          tLeader = at;
          event(`Patroni: ${candidate} is the leader (timeline ${p.timeline ?? '?'})`);
        }
        if (
          tRouting === undefined &&
          tLeader !== undefined &&
          w.haproxy?.write?.up === 1 &&
          w.haproxy.write.upMember === candidate
        ) {
          tRouting = at;
          event(`HAProxy ${w.haproxy.write.name} routes writes to ${candidate} only`);
        }
        if (tSync === undefined && tLeader !== undefined && p && p.leader === candidate) {
          const reps = p.members.filter((m) => !m.isLeader);
          const { maximumLagOnFailoverBytes: maxLag, timeline: tl } = p;
          if (
            reps.length > 0 &&
            reps.every(
              (m) =>
                m.restReachable &&
                isStreaming(m) === true &&
                m.lagBytes !== null &&
                m.lagBytes <= maxLag &&
                (m.timeline === undefined || tl === undefined || m.timeline === tl),
            )
          ) {
            tSync = at;
            event(
              `replicas back in sync: ${reps.map((m) => m.name).join(', ')} streaming from ${candidate} within maximum_lag_on_failover`,
            );
          }
        }
        const wroteAfter = [...write!.acked.values()].some((t) => tRouting !== undefined && t > tRouting);
        if (tLeader !== undefined && tRouting !== undefined && tSync !== undefined && wroteAfter) break;
        if (requestError && requestDone && tLeader === undefined && silentSince.size === 0 && ++errorPolls >= 4) {
          failed = true;
          reasons.push(requestError);
          break;
        }
        if (at >= deadline) {
          failed = true;
          reasons.push(
            `timed out after ${Math.round(d.timeout / 1000)} s: ${tLeader === undefined ? 'no new leader' : tRouting === undefined ? 'HAProxy never routed to the new leader' : tSync === undefined ? 'replicas not back in sync' : 'no write acknowledged after the switch'}`,
          );
          break;
        }
        await sleep(pollMs);
      }
      await sleep(Math.min(1000, d.probe_interval * 5)); // a short tail: writes keep flowing after
      tEnd = now();
      await write!.stop();
      await read?.stop();
      const gap = longestGap([...write!.acked.values()], tProbes, tEnd);
      if (gap.ms > d.probe_interval * 3) {
        const resumed = write!.acked.size > 0 && [...write!.acked.values()].includes(gap.to);
        timeline.push(
          { t: gap.from - t0, text: 'last write acknowledged before the gap' },
          {
            t: gap.to - t0,
            text: resumed
              ? `first write acknowledged after the gap (${(gap.ms / 1000).toFixed(1)} s without writes)`
              : `no write acknowledged since (${(gap.ms / 1000).toFixed(1)} s)`,
          },
        );
      }
      const present = interrupted
        ? undefined
        : await readBack({ dsn: d.write_dsn!, table: d.probe_table, drillId: id, deadline: now() + 10_000, now });
      const missing = present ? missingWrites(write!.acked, present) : undefined;
      missingCount = missing?.seqs.length ?? 0;
      if (missing)
        event(
          `RPO check: ${write!.acked.size} acked writes, ${present!.size} rows read back from ${candidate}, ${missing.seqs.length} missing`,
        );
      lines.push(
        interrupted
          ? {
              ...infoLine('write gap until the drill stopped (not an RTO: the crash was not recovered from)', gap.ms),
              target: `seed target for a primary failure < ${d.targets.failover_rto / 1000} s`,
            }
          : durationLine(
              'write RTO (longest gap without an acked write)',
              gap.ms,
              d.targets.switchover_rto,
              `< ${d.targets.switchover_rto / 1000} s (planned switchover)`,
            ),
        rpoLine(missing, d.probe_interval),
        durationLine(
          'HAProxy routes writes to the new leader',
          tRouting === undefined ? null : tRouting - tReq,
          d.targets.routing,
        ),
        durationLine('replicas back in sync', tSync === undefined ? null : tSync - tReq, d.targets.sync),
      );
      if (read)
        lines.push(infoLine('read path: longest gap without a read', longestGap(read.stats.ok, tProbes, tEnd).ms));
    } else if (req.kind === 'app-node' && !interrupted) {
      const run = deps.runCommand ?? defaultRunCommand;
      const server = appNode!.server;
      const serverUp = (w: Watch): boolean | undefined => {
        const s = w.haproxy?.apps.find((b) => b.name === backend)?.servers.find((x) => x.name === server);
        return s ? /^UP/.test(s.status) && !/going down/i.test(s.status) : undefined;
      };
      const tStop = now();
      event(`stopping ${server}: ${appNode!.stop.join(' ')}`);
      appLeftStopped = appNode!.start;
      await run(appNode!.stop);
      event(`stop command done`);
      let tOut: number | undefined;
      let tStart: number | undefined;
      let tBack: number | undefined;
      while (!interrupted) {
        const w = await watch();
        const at = now();
        const up = serverUp(w);
        if (tOut === undefined && up === false) {
          tOut = at;
          event(`HAProxy took ${server} out of ${backend}`);
        }
        // Keep it down a little past detection, so the users' gap (if any) is fully seen.
        if (tOut !== undefined && tStart === undefined && at - tOut >= 1000) {
          tStart = now();
          event(`starting ${server}: ${appNode!.start.join(' ')}`);
          appLeftStopped = undefined;
          await run(appNode!.start);
        }
        if (tStart !== undefined && tBack === undefined && up === true) {
          tBack = at;
          event(`${server} back in service in ${backend}`);
          break;
        }
        if (at >= deadline) {
          failed = true;
          reasons.push(
            `timed out after ${Math.round(d.timeout / 1000)} s: ${tOut === undefined ? `HAProxy never took ${server} out` : `${server} not back in service`}`,
          );
          if (tStart === undefined) {
            appLeftStopped = undefined;
            await run(appNode!.start).catch((e: unknown) => reasons.push((e as Error).message));
          }
          break;
        }
        await sleep(pollMs);
      }
      await sleep(1000);
      tEnd = now();
      await http!.stop();
      const gap = longestGap(http!.stats.ok, tProbes, tEnd);
      if (gap.ms > d.probe_interval * 3)
        timeline.push(
          { t: gap.from - t0, text: 'last good answer before the gap' },
          {
            t: gap.to - t0,
            text: http!.stats.ok.includes(gap.to)
              ? `first good answer after the gap (${(gap.ms / 1000).toFixed(1)} s)`
              : `no good answer since (${(gap.ms / 1000).toFixed(1)} s)`,
          },
        );
      lines.push(
        durationLine('Odoo RTO (longest gap without a good answer)', gap.ms, d.targets.app_node_rto),
        durationLine(
          `HAProxy takes ${server} out`,
          tOut === undefined ? null : tOut - tStop,
          d.targets.app_node_detect,
        ),
        durationLine(
          `${server} back in service after start`,
          tBack === undefined || tStart === undefined ? null : tBack - tStart,
          d.targets.app_node_back,
        ),
      );
    }
    if (interrupted) {
      tEnd = now();
      await write?.stop();
      await read?.stop();
      await http?.stop();
      if (lines.length === 0) {
        const ok = write ? [...write.acked.values()] : (http?.stats.ok ?? []);
        lines.push(infoLine('longest gap without a success (until interrupted)', longestGap(ok, tProbes, tEnd).ms));
      }
    }
    timeline.sort((a, b) => a.t - b.t);
    const outcome = outcomeOf(lines, interrupted, failed);
    if (outcome === 'FAIL' && reasons.length === 0)
      reasons.push(
        `missed: ${lines
          .filter((l) => l.pass === false)
          .map((l) => l.name)
          .join('; ')}`,
      );
    const okTimes = write ? [...write.acked.values()] : (http?.stats.ok ?? []);
    const wb = bucketize(okTimes, tProbes, tEnd);
    const report: DrillReport = {
      id,
      kind: req.kind,
      subject,
      by: req.by,
      startedAt: t0,
      endedAt: tEnd,
      outcome,
      reasons,
      lines,
      timeline,
      strip: {
        bucketMs: wb.bucketMs,
        writes: wb.counts,
        ...(read ? { reads: bucketize(read.stats.ok, tProbes, tEnd).counts } : {}),
      },
      probe: {
        writesAcked: write ? write.acked.size : (http?.stats.ok.length ?? 0),
        writesFailed: write ? write.stats.failed : (http?.stats.failed ?? 0),
        readsOk: read?.stats.ok.length ?? 0,
        readsFailed: read?.stats.failed ?? 0,
        missing: missingCount,
      },
      silences: silences.map((s) => s.id),
    };
    return report;
  } finally {
    if (appLeftStopped) {
      const argv = appLeftStopped;
      await (deps.runCommand ?? defaultRunCommand)(argv).then(
        () => log.warn({ argv }, 'drill: started the app node again after an interrupted drill'),
        (e: unknown) => log.error({ argv, err: e }, 'drill: could not start the app node again; start it by hand'),
      );
    }
    await write?.stop();
    await read?.stop();
    await http?.stop();
    // Symptoms outlive the drill a little (log rules see lines late, `for:` holds resolution): keep the silences a grace period.
    const until = now() + d.mute_grace;
    for (const s of silences) await deps.store.addSilence({ ...s, endsAt: until }).catch(() => undefined);
  }
}

/** Runs the drill and stores its report (whatever the outcome). */
export async function runAndStore(deps: DrillDeps, req: DrillRequest): Promise<DrillReport> {
  const r = await runDrill(deps, req);
  if (r.outcome !== 'REFUSED') await deps.store.saveDrill(r);
  return r;
}

/**
 * Chaos runner (root): `npm run chaos -- --cycles N [--seed S] [--kinds a,b] [--soak 1h] [--json out.json] [--quiet]`
 *
 * Starts the lab (scripts/lab up with the caller's OHW_LAB_* env; reuses a healthy one), the
 * loopback Bot API server and the real service process, runs seeded-random fault cycles, then
 * checks the Bot API call log against the fault timeline (scripts/chaos/checker.ts) and prints a
 * table per fault kind. Exit 0: no violation; 1: violations; 2: could not run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startFakeTelegram, type FakeTelegram } from '../../test/support/fake-telegram.js';
import { labSkipReason, startLab } from '../../test/support/lab.js';
import { parseDuration } from '../../src/util/duration.js';
import { checkRun } from './checker.js';
import { FAULT_KINDS, seededRng, type FaultContext } from './faults.js';
import { buildReport, kindRows, renderTable, renderViolations, type ChaosReport } from './report.js';
import type { BotCall } from './timeline.js';
import { runCycles, toBotCalls } from './runner.js';
import { CHAOS_TOKEN, ServiceProcess } from './service.js';

const USAGE = `usage: npm run chaos -- --cycles N [--seed S] [--kinds a,b] [--soak 1h] [--json out.json] [--quiet]
  (as root; = tsx scripts/chaos/main.ts …)
  --cycles N          fault cycles (default 6)
  --seed S            seed of the fault sequence (default: time-based, printed)
  --kinds a,b         only these fault kinds (default: all); 'cheap' = the kinds CI runs
  --soak 1h           keep running cycles for this long (--cycles is then ignored)
  --json FILE         write the timeline, per-cycle figures, incidents, violations and call log
  --quiet             print only the table and the violations
  --quiet-seconds S   healthy period before each fault (default 10)
  --settle-seconds S  at most this long for a cycle's incidents to resolve after recovery (default 150)
  --each              every selected kind once, in order (instead of --cycles random picks)
  --down              bring the lab down at the end
  --recheck FILE      no lab: check the call log and timeline of an earlier --json file again
fault kinds: ${FAULT_KINDS.map((k) => k.name).join(', ')}`;

export interface ChaosOptions {
  cycles: number;
  seed: number;
  kinds: string[];
  soakMs?: number;
  quietMs: number;
  settleMs: number;
  /** time the freshly started service gets on the healthy lab before the first cycle (default 15 s) */
  warmupMs?: number;
  log: (line: string) => void;
  down?: boolean;
  each?: boolean;
}

/** Mounts a small tmpfs for the state store (the disk-full kind); undefined when that is not possible. */
function mountTmpfs(dir: string, log: (s: string) => void): string | undefined {
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'ohw-chaos-state', dir], { stdio: 'pipe' });
    return dir;
  } catch (e) {
    log(
      `chaos: no tmpfs for the state store (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); disk-full is skipped`,
    );
    return undefined;
  }
}

/** One chaos run end to end; returns the report (the caller prints / writes it). */
export async function runChaos(
  o: ChaosOptions,
  command: string,
): Promise<ChaosReport & { calls: ReturnType<typeof toBotCalls> }> {
  const skip = labSkipReason();
  if (skip !== undefined) throw new Error(`cannot run: ${skip}`);
  const unknown = o.kinds.filter((k) => !FAULT_KINDS.some((f) => f.name === k));
  if (unknown.length)
    throw new Error(
      `unknown fault kind(s): ${unknown.join(', ')} (known: ${FAULT_KINDS.map((k) => k.name).join(', ')})`,
    );
  o.log('chaos: scripts/lab up (reuses a healthy running lab)…');
  const lab = await startLab();
  await lab.waitReady(180);
  const telegram: FakeTelegram = await startFakeTelegram({ token: CHAOS_TOKEN, knownChats: 'any' });
  const dir = mkdtempSync(join(tmpdir(), 'ohw-chaos-'));
  const stateDir = join(dir, 'state');
  const needsTmpfs = o.kinds.includes('disk-full');
  const stateTmpfs = needsTmpfs ? mountTmpfs(stateDir, o.log) : undefined;
  mkdirSync(stateDir, { recursive: true });
  const service = new ServiceProcess({
    info: lab.info,
    apiRoot: telegram.apiRoot,
    dir,
    statePath: join(stateDir, 'state.db'),
  });
  o.log(`chaos: work dir ${dir} (service log ${service.logPath})`);
  try {
    const serviceStartedAt = Date.now();
    await service.start();
    const ctx: FaultContext = {
      lab,
      telegram,
      service,
      rng: seededRng(o.seed),
      log: o.log,
      ...(stateTmpfs !== undefined ? { stateTmpfs } : {}),
    };
    const kinds = (
      o.each === true
        ? o.kinds.map((n) => FAULT_KINDS.find((k) => k.name === n)!)
        : FAULT_KINDS.filter((k) => o.kinds.includes(k.name))
    ).filter((k) => {
      const why = k.unavailable?.(ctx);
      if (why !== undefined) o.log(`chaos: ${k.name} skipped: ${why}`);
      return why === undefined;
    });
    if (kinds.length === 0) throw new Error('no fault kind can run here');
    const timeline = await runCycles(
      ctx,
      {
        seed: o.seed,
        cycles: o.cycles,
        ...(o.soakMs !== undefined ? { soakMs: o.soakMs } : {}),
        kinds,
        quietMs: o.quietMs,
        settleMs: o.settleMs,
        serviceStartedAt,
        warmupMs: o.warmupMs ?? 15_000,
        ...(o.each === true ? { each: true } : {}),
      },
      (rec) =>
        o.log(
          `cycle ${rec.cycle}: ${rec.kind}${rec.target ? ` (${rec.target})` : ''} done in ${((rec.end - rec.faultAt) / 1000).toFixed(0)} s${rec.error ? ` — ERROR ${rec.error}` : ''}`,
        ),
    );
    const calls = toBotCalls(telegram.calls).filter(
      (c) => c.method === 'sendMessage' || c.method === 'editMessageText',
    );
    const result = checkRun(calls, timeline);
    return { ...buildReport(command, timeline, result), calls };
  } finally {
    await service.stop();
    await telegram.close();
    if (stateTmpfs !== undefined) {
      try {
        execFileSync('umount', [stateTmpfs], { stdio: 'pipe' });
      } catch {
        // still busy: left mounted, said so
        o.log(`chaos: could not unmount ${stateTmpfs}`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    if (o.down === true) await lab.down();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      cycles: { type: 'string', default: '6' },
      seed: { type: 'string' },
      kinds: { type: 'string' },
      soak: { type: 'string' },
      json: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      'quiet-seconds': { type: 'string', default: '10' },
      'settle-seconds': { type: 'string', default: '150' },
      down: { type: 'boolean', default: false },
      each: { type: 'boolean', default: false },
      recheck: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.recheck !== undefined) {
    const old = JSON.parse(readFileSync(values.recheck, 'utf8')) as ChaosReport & { calls: BotCall[] };
    const result = checkRun(old.calls, old.timeline);
    process.stdout.write(
      `${renderTable(kindRows(result.cycles))}\n\n${renderViolations(result)}\ncommand: ${old.command}\n`,
    );
    return result.violations.length === 0 ? 0 : 1;
  }
  const cycles = Number(values.cycles);
  if (!Number.isInteger(cycles) || cycles < 1)
    throw new Error(`--cycles: expected a positive integer, got ${values.cycles}`);
  const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 100_000;
  if (!Number.isInteger(seed)) throw new Error(`--seed: expected an integer, got ${values.seed}`);
  const soakMs = values.soak !== undefined ? parseDuration(values.soak) : undefined;
  if (values.soak !== undefined && soakMs === undefined)
    throw new Error(`--soak: expected a duration like 1h or 30m, got ${values.soak}`);
  const kinds =
    values.kinds === undefined
      ? FAULT_KINDS.map((k) => k.name)
      : values.kinds
          .split(',')
          .flatMap((k) => (k === 'cheap' ? FAULT_KINDS.filter((f) => f.cheap).map((f) => f.name) : [k.trim()]));
  const log = values.quiet
    ? () => undefined
    : (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
  const command = `npm run chaos -- ${process.argv.slice(2).join(' ')}${values.seed === undefined ? ` (seed ${seed})` : ''}`;
  log(
    `chaos: seed ${seed}, ${soakMs !== undefined ? `soak ${values.soak}` : values.each ? 'each kind once' : `${cycles} cycles`}, kinds ${kinds.join(',')}`,
  );
  const report = await runChaos(
    {
      cycles,
      seed,
      kinds,
      ...(soakMs !== undefined ? { soakMs } : {}),
      quietMs: Number(values['quiet-seconds']) * 1000,
      settleMs: Number(values['settle-seconds']) * 1000,
      log,
      down: values.down,
      each: values.each,
    },
    command,
  );
  process.stdout.write(
    `\n${renderTable(report.kinds)}\n\n${renderViolations({ violations: report.violations, incidents: report.incidents, cycles: report.cycles })}\ncommand: ${command}\n`,
  );
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  return report.violations.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`chaos: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(2);
    },
  );
}

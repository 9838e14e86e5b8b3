/**
 * The chaos loop: per cycle a healthy quiet period, one seeded-random fault (inject, hold, recover),
 * a wait for a healthy lab, and a settle period in which the cycle's incidents may resolve.
 */
import type { CallRecord } from '../../test/support/fake-telegram.js';
import { checkRun } from './checker.js';
import { seededRng, type FaultContext, type FaultKind } from './faults.js';
import type { BotCall, CycleRecord, Timeline } from './timeline.js';

export interface RunnerOptions {
  seed: number;
  cycles: number;
  /** run cycles until this much time has passed (overrides `cycles` as the stop condition) */
  soakMs?: number;
  kinds: FaultKind[];
  /** every kind once, in the given order (coverage), instead of a seeded random pick per cycle */
  each?: boolean;
  /** healthy period before each fault */
  quietMs: number;
  /** at most this long after the recovery for the cycle's incidents to resolve */
  settleMs: number;
  /** the service was started at this moment: [startedAt, first cycle) is a healthy period too (cycle 0, "startup") */
  serviceStartedAt?: number;
  /** time the freshly started service gets on the healthy lab before the first cycle */
  warmupMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const toBotCalls = (calls: readonly CallRecord[]): BotCall[] =>
  calls.map((c) => ({ method: c.method, params: c.params, at: c.at, status: c.status, response: c.response }));

/** Incidents (pages above info) opened at or after `since` and not resolved yet. */
function openIncidents(calls: readonly CallRecord[], since: number): number {
  const r = checkRun(toBotCalls(calls), { seed: 0, startedAt: 0, endedAt: 0, cycles: [] });
  return r.incidents.filter((i) => i.at >= since && i.resolvedAt === undefined && i.severity !== 'info').length;
}

async function settle(ctx: FaultContext, since: number, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline && openIncidents(ctx.telegram.calls, since) > 0) await sleep(500);
}

export async function runCycles(
  ctx: FaultContext,
  o: RunnerOptions,
  onCycle: (rec: CycleRecord) => void = () => undefined,
): Promise<Timeline> {
  const rng = seededRng(o.seed);
  const kctx: FaultContext = { ...ctx, rng };
  const timeline: Timeline = { seed: o.seed, startedAt: Date.now(), endedAt: 0, cycles: [] };
  let lastFault = o.serviceStartedAt ?? Date.now();
  if (o.serviceStartedAt !== undefined) {
    // What the service says when it starts on a healthy lab is checked like any healthy period.
    await sleep(o.warmupMs ?? 15_000);
    await settle(ctx, lastFault, o.settleMs);
    const end = Date.now();
    timeline.cycles.push({
      cycle: 0,
      kind: 'startup',
      planned: false,
      expectPage: false,
      start: o.serviceStartedAt,
      faultAt: end,
      end,
    });
  }
  const t0 = Date.now();
  const cycles = o.each === true ? o.kinds.length : o.cycles;
  for (let i = 1; o.soakMs !== undefined ? Date.now() - t0 < o.soakMs : i <= cycles; i++) {
    await ctx.lab.waitReady(240);
    await settle(ctx, lastFault, o.settleMs); // leftovers of the previous cycle
    const kind = o.each === true ? o.kinds[(i - 1) % o.kinds.length]! : rng.pick(o.kinds);
    // The lab was verified healthy when the previous cycle ended: from then on until this fault is a
    // healthy period (a late page of the previous fault shows up here, as it should).
    const rec: CycleRecord = {
      cycle: i,
      kind: kind.name,
      planned: kind.planned,
      expectPage: kind.expectPage,
      start: timeline.cycles.at(-1)?.end ?? Date.now(),
      faultAt: 0,
      end: 0,
    };
    ctx.log(`cycle ${i}: ${kind.name}: healthy ${o.quietMs / 1000} s…`);
    await sleep(o.quietMs);
    rec.faultAt = Date.now();
    lastFault = rec.faultAt;
    try {
      await kind.run(kctx, rec);
    } catch (e) {
      rec.error = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      ctx.log(`cycle ${i}: ${kind.name} failed: ${rec.error}`);
    }
    try {
      await ctx.lab.waitReady(240);
      rec.recoveredAt = Date.now();
    } catch (e) {
      rec.error ??= `lab not healthy after recovery: ${e instanceof Error ? e.message.split('\n')[0]! : String(e)}`;
    }
    if (!ctx.service.running) {
      rec.error ??= 'the service exited unexpectedly';
      await ctx.service.start();
    }
    await settle(ctx, rec.faultAt, o.settleMs);
    await sleep(3_000); // late follow-ups still belong to this cycle
    rec.end = Date.now();
    timeline.cycles.push(rec);
    onCycle(rec);
  }
  timeline.endedAt = Date.now();
  return timeline;
}

import type { Logger } from './log.js';
import type { Evaluation } from './rules/rule-type.js';

/** While a source stays down, one summary line this often (with the failed evaluations since the last line). */
export const SOURCE_DOWN_SUMMARY_MS = 5 * 60_000;

interface Down {
  since: number;
  /** Rules failing on this source now, with their latest error. */
  failing: Map<string, string>;
  lastError: string;
  lastLoggedAt: number;
  failedSinceLog: number;
  failedTotal: number;
}

/**
 * Logs a source going down and coming back, not every failed evaluation: with everything down, a
 * warning per rule per tick buried the log (~390 lines in 3 minutes). A source is down while at
 * least one rule fails on it; it is logged when it goes down (with the error), at most once every
 * `summaryEveryMs` while it stays down (with the count of failed evaluations since), and when its
 * last failing rule evaluates again (with the downtime).
 */
export class SourceHealthLog {
  private readonly down = new Map<string, Down>();
  /** Rules whose last evaluations could not see part of what they watch (ok with `unknown`), since when. */
  private readonly partlyUnknown = new Map<string, number>();
  private readonly summaryEveryMs: number;

  constructor(
    private readonly logger: Logger,
    o: { summaryEveryMs?: number } = {},
  ) {
    this.summaryEveryMs = o.summaryEveryMs ?? SOURCE_DOWN_SUMMARY_MS;
  }

  record(ruleId: string, ev: Evaluation, now: number): void {
    this.recordPartial(ruleId, ev, now);
    if (ev.ok) {
      for (const [source, d] of this.down) {
        if (!d.failing.delete(ruleId) || d.failing.size > 0) continue;
        this.down.delete(source);
        this.logger.info(
          { source, downForMs: now - d.since, failedEvaluations: d.failedTotal, lastError: d.lastError },
          'source recovered',
        );
      }
      return;
    }
    const d = this.down.get(ev.source);
    if (!d) {
      this.down.set(ev.source, {
        since: now,
        failing: new Map([[ruleId, ev.error]]),
        lastError: ev.error,
        lastLoggedAt: now,
        failedSinceLog: 0,
        failedTotal: 1,
      });
      this.logger.warn(
        { source: ev.source, rule: ruleId, error: ev.error },
        'source down: rules reading it are frozen (their alerts neither fire nor resolve)',
      );
      return;
    }
    d.failing.set(ruleId, ev.error);
    d.lastError = ev.error;
    d.failedSinceLog++;
    d.failedTotal++;
    if (now - d.lastLoggedAt >= this.summaryEveryMs) {
      this.logger.warn(
        {
          source: ev.source,
          downForMs: now - d.since,
          failedEvaluations: d.failedSinceLog,
          rules: [...d.failing.keys()].sort(),
          error: ev.error,
        },
        'source still down',
      );
      d.lastLoggedAt = now;
      d.failedSinceLog = 0;
    }
  }

  /**
   * A rule that reads its source but not all of it (a query timing out on one node every tick)
   * keeps some alerts frozen: said once when it starts and once when it ends, like a source.
   */
  private recordPartial(ruleId: string, ev: Evaluation, now: number): void {
    if (!ev.ok) return; // a failed evaluation is the source's story above
    const since = this.partlyUnknown.get(ruleId);
    const unknown = ev.unknown ?? [];
    if (unknown.length && since === undefined) {
      this.partlyUnknown.set(ruleId, now);
      this.logger.info(
        { rule: ruleId, unknown: unknown.map((u) => ({ labels: u.labels, reason: u.reason })) },
        'rule partly unknown: matching alerts kept as they are',
      );
    } else if (!unknown.length && since !== undefined) {
      this.partlyUnknown.delete(ruleId);
      this.logger.info({ rule: ruleId, unknownForMs: now - since }, 'rule fully known again');
    }
  }
}

/**
 * The chaos run's fault timeline: what the runner did and when, per cycle. The checker reads it
 * next to the Bot API call log; both are plain data (JSON-serialisable) so a run can be re-checked.
 */

/** One Bot API call as the loopback server recorded it (a subset of test/support CallRecord). */
export interface BotCall {
  method: string;
  params: Record<string, unknown>;
  /** arrival, ms since epoch */
  at: number;
  /** HTTP status answered; 0 = connection dropped */
  status: number;
  response: unknown;
}

export interface CycleRecord {
  cycle: number;
  kind: string;
  /** a planned operation (switchover, reload, …): nothing above info may be sent for it */
  planned: boolean;
  /** an unplanned fault the on-call engineer must hear about: a page (≥ warning) is required */
  expectPage: boolean;
  /** the cycle began: lab verified healthy; [start, faultAt) is a healthy period */
  start: number;
  faultAt: number;
  /** first moment a leader other than the old one was seen in /cluster (failover kinds) */
  leaderVisibleAt?: number;
  /** recovery action started (node restarted, process resumed, …) */
  recoverAt?: number;
  /** the lab was verified healthy again after the recovery */
  recoveredAt?: number;
  /** the cycle's settle period ended (its incidents had time to resolve) */
  end: number;
  /** service kill -9 / restart moments during this cycle */
  serviceRestarts?: { killedAt: number; startedAt: number }[];
  /** what the fault hit, for the report (e.g. "pg-node-2") */
  target?: string;
  /** the runner could not carry the cycle out (lab command failed); the checker reports it */
  error?: string;
}

export interface Timeline {
  seed: number;
  startedAt: number;
  endedAt: number;
  cycles: CycleRecord[];
}

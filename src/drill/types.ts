/** What a failover drill measured, as stored in the `drills` table and shown in the chat and the CLI. */
export type DrillKind = 'switchover' | 'app-node';

/**
 * PASS: every line met its target. FAIL: a line missed it (or the drill timed out). INTERRUPTED: something
 * that was not part of the drill happened (a member crashed): the figures are not a pass whatever they say.
 * REFUSED: the cluster was not healthy enough to start.
 */
export type DrillOutcome = 'PASS' | 'FAIL' | 'INTERRUPTED' | 'REFUSED';

export interface DrillLine {
  name: string;
  /** Measured value in ms (null: not reached / not measurable). */
  valueMs: number | null;
  /** Shown instead of a duration (e.g. "0 acked writes missing"). */
  measured?: string;
  targetMs?: number;
  target: string;
  /** null: information only (no target). */
  pass: boolean | null;
}

export interface TimelineEvent {
  /** ms since the drill started */
  t: number;
  text: string;
}

export interface DrillReport {
  id: string;
  kind: DrillKind;
  /** What was exercised: "pg-node-1 → pg-node-2", "odoo1". */
  subject: string;
  by: string;
  startedAt: number;
  endedAt: number;
  outcome: DrillOutcome;
  /** Why it was refused / interrupted / failed. */
  reasons: string[];
  lines: DrillLine[];
  timeline: TimelineEvent[];
  /** Acknowledged probe successes per bucket (the strip chart), with the bucket width. */
  strip?: { bucketMs: number; writes: number[]; reads?: number[] };
  probe?: { writesAcked: number; writesFailed: number; readsOk: number; readsFailed: number; missing: number };
  /** Silences the drill created (ids), so an operator can lift them. */
  silences: string[];
}

/** Stored drill history (part of the state store). */
export interface DrillStore {
  saveDrill(r: DrillReport): Promise<void>;
  listDrills(limit: number): Promise<DrillReport[]>;
}

import { createHash } from 'node:crypto';
import type { Severity } from '../config/zod-types.js';
import type { Labels, Values } from '../rules/rule-type.js';

export type AlertState = 'pending' | 'firing' | 'resolved';

/** One alert: a rule's finding with a given label set, through one episode of trouble. Times are epoch ms. */
export interface Alert {
  fingerprint: string;
  /** Short, stable, human-typable id for /ack and /silence (first hex digits of the fingerprint). */
  shortId: string;
  ruleId: string;
  labels: Labels;
  state: AlertState;
  severity: Severity;
  /** When the condition was first seen in this episode: `for` counts from here, across restarts. */
  activeSince: number;
  firedAt?: number;
  /** Last evaluation that saw the condition: `keep_firing_for` counts from here. */
  lastSeenAt: number;
  resolvedAt?: number;
  /** Set once a firing notification was queued: only then is a resolve worth sending. */
  notifiedAt?: number;
  lastNotifiedAt?: number;
  ackedBy?: string;
  ackedAt?: number;
  message: string;
  values: Values;
  samples?: string[];
  /** Where the incident stands now (a rule type's phase: down, election, failover_completed…). */
  phase?: string;
  /** The phases told so far, oldest first: the story the first message shows. */
  story?: StoryEntry[];
  /** Told once, never reminded nor resolved aloud (a planned switchover). */
  announce?: boolean;
}

export interface StoryEntry {
  phase: string;
  at: number;
  text: string;
}

/** Longest story kept on an alert: the first entries and the latest ones matter. */
export const MAX_STORY = 12;

export function addToStory(story: readonly StoryEntry[] | undefined, e: StoryEntry): StoryEntry[] {
  const all = [...(story ?? []), e];
  return all.length <= MAX_STORY ? all : [all[0]!, ...all.slice(all.length - (MAX_STORY - 1))];
}

/** fingerprint = rule id + sorted labels: the same trouble keeps the same identity across restarts. */
export function fingerprintOf(ruleId: string, labels: Labels): string {
  const canon = JSON.stringify([
    ruleId,
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  ]);
  return createHash('sha256').update(canon).digest('hex').slice(0, 16);
}

export function shortIdOf(fingerprint: string): string {
  return fingerprint.slice(0, 6);
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bucketize,
  durationLine,
  formatHistory,
  formatReport,
  longestGap,
  missingWrites,
  outcomeOf,
  rpoLine,
  stripChart,
} from '../../src/drill/measure.js';
import type { DrillReport } from '../../src/drill/types.js';

test('longestGap: the longest interval without a success, window edges included', () => {
  assert.deepEqual(longestGap([100, 200, 300, 2300, 2400], 0, 2500), { ms: 2000, from: 300, to: 2300 });
  // Never succeeded after 300: the gap runs to the window end, not zero.
  assert.deepEqual(longestGap([100, 200, 300], 0, 5000), { ms: 4700, from: 300, to: 5000 });
  // No success at all: the whole window.
  assert.equal(longestGap([], 1000, 4000).ms, 3000);
  // Successes outside the window are ignored; order does not matter.
  assert.equal(longestGap([3000, 50, 1500, 9999], 1000, 4000).ms, 1500);
});

test('missingWrites: acked writes not read back are lost data', () => {
  const acked = new Map([
    [1, 1000],
    [2, 1100],
    [3, 1200],
    [4, 1300],
  ]);
  assert.deepEqual(missingWrites(acked, new Set([1, 2, 3, 4, 5])), { seqs: [], spanMs: 0 });
  assert.deepEqual(missingWrites(acked, new Set([1, 4])), { seqs: [2, 3], spanMs: 100 });
});

test('rpoLine: 0 missing passes; any loss or an unchecked read-back fails', () => {
  assert.equal(rpoLine({ seqs: [], spanMs: 0 }, 100).pass, true);
  const lost = rpoLine({ seqs: [7, 8, 9], spanMs: 200 }, 100);
  assert.equal(lost.pass, false);
  assert.equal(lost.valueMs, 300);
  assert.match(lost.measured!, /3 write\(s\) lost/);
  assert.equal(rpoLine(undefined, 100).pass, false);
});

test('durationLine: strictly under the target passes; not reached fails', () => {
  assert.equal(durationLine('x', 9999, 10_000).pass, true);
  assert.equal(durationLine('x', 10_000, 10_000).pass, false);
  assert.equal(durationLine('x', null, 10_000).pass, false);
});

test('outcomeOf: interrupted beats everything; a failed line or a timeout is FAIL; info lines do not count', () => {
  const pass = durationLine('a', 1, 10);
  const fail = durationLine('b', 20, 10);
  const info = { name: 'i', valueMs: 99, target: 'info', pass: null };
  assert.equal(outcomeOf([pass, info], false, false), 'PASS');
  assert.equal(outcomeOf([pass, fail], false, false), 'FAIL');
  assert.equal(outcomeOf([pass], false, true), 'FAIL');
  assert.equal(outcomeOf([pass], true, false), 'INTERRUPTED');
});

test('bucketize + stripChart: a gap shows as dots', () => {
  const ok = [...Array(10).keys()].map((i) => i * 100).concat([...Array(10).keys()].map((i) => 3000 + i * 100));
  const b = bucketize(ok, 0, 4000, 16);
  assert.equal(b.bucketMs, 250);
  const strip = stripChart(b.counts);
  assert.equal(strip.length, 16);
  assert.match(strip, /^█+[▄█]?·{6,}[▄█]/);
});

const report: DrillReport = {
  id: 'd1',
  kind: 'switchover',
  subject: 'pg-node-1 → pg-node-2',
  by: 'alice',
  startedAt: Date.UTC(2026, 0, 2, 3, 4, 5),
  endedAt: Date.UTC(2026, 0, 2, 3, 4, 25),
  outcome: 'FAIL',
  reasons: ['missed: replicas back in sync'],
  lines: [
    durationLine('write RTO (longest gap without an acked write)', 4200, 10_000),
    rpoLine({ seqs: [], spanMs: 0 }, 100),
    durationLine('replicas back in sync', null, 60_000),
  ],
  timeline: [
    { t: 2000, text: 'switchover requested' },
    { t: 6200, text: 'first write acknowledged after the gap' },
  ],
  strip: { bucketMs: 500, writes: [5, 5, 0, 0, 5] },
  silences: ['abc'],
};

test('formatReport: pass/fail per line against the target, the strip chart and the timeline', () => {
  const t = formatReport(report);
  assert.match(t, /^❌ Drill switchover pg-node-1 → pg-node-2: FAIL/);
  assert.match(t, /PASS {2}write RTO .* 4\.2 s .*target < 10s/);
  assert.match(t, /PASS {2}RPO .*0 writes/);
  assert.match(t, /FAIL {2}replicas back in sync .*not reached/);
  assert.match(t, /writes ██··█/);
  assert.match(t, / {2}\+2\.0s {2}switchover requested/);
  assert.match(t, /silences abc/);
});

test('formatHistory: one line per drill with its RTO', () => {
  assert.match(
    formatHistory([report]),
    /^2026-01-02 03:04:05Z {2}FAIL +switchover pg-node-1 → pg-node-2 {2}RTO 4\.2 s {2}2\/3 lines pass/,
  );
  assert.match(formatHistory([]), /No drills yet/);
});

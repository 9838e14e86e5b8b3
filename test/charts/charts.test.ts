import { test } from 'node:test';
import assert from 'node:assert/strict';
import { historyTimeline, incidents, LEADER_LANE } from '../../src/charts/history.js';
import {
  LAG_CHART_SIZE,
  lagChartPng,
  lagChartSvg,
  leaderChanges,
  replicaKeys,
  withGaps,
} from '../../src/charts/lag.js';
import { PALETTE } from '../../src/charts/render.js';
import { FAILOVER_COLOUR, SEVERITY_COLOUR, timelinePng, timelineSize } from '../../src/charts/timeline.js';
import type { Transition } from '../../src/alerts/lifecycle.js';
import type { Sample } from '../../src/store/store.js';
import { countColour, decodePng, inkIn } from '../support/png.js';

const TO = Date.UTC(2026, 11, 6, 3, 0);
const FROM = TO - 3_600_000;

/** pg-node-1 leads for 40 min, then pg-node-2; the other two replicate with a lag wave; pg-node-3 misses 5 min. */
function hourOfSamples(): Sample[] {
  const out: Sample[] = [];
  for (let t = FROM; t <= TO; t += 15_000) {
    const leader = t < FROM + 2_400_000 ? 'pg-node-1' : 'pg-node-2';
    out.push({ series: 'leader', key: leader, at: t, value: 1 });
    for (const r of ['pg-node-1', 'pg-node-2', 'pg-node-3'].filter((x) => x !== leader)) {
      if (r === 'pg-node-3' && t > FROM + 1_200_000 && t < FROM + 1_500_000) continue;
      out.push({ series: 'lag_bytes', key: r, at: t, value: (1 + Math.sin(t / 300_000 + 2 * r.charCodeAt(8))) * 1e6 });
      out.push({ series: 'lag_seconds', key: r, at: t, value: 1 + Math.cos(t / 400_000 + r.charCodeAt(8)) });
    }
  }
  return out;
}

const PLOT = { x0: 90, y0: 100, x1: LAG_CHART_SIZE.width - 70, y1: LAG_CHART_SIZE.height - 70 };

test('lag chart PNG: its size, ink in the plot area, one colour per replica, the failover threshold line', () => {
  const samples = hourOfSamples();
  const png = decodePng(
    lagChartPng({ cluster: 'odoo-cluster', from: FROM, to: TO, samples, thresholdBytes: 1_048_576 }),
  );
  assert.equal(png.width, LAG_CHART_SIZE.width);
  assert.equal(png.height, LAG_CHART_SIZE.height);
  assert.ok(inkIn(png, PLOT) > 5000, 'lines drawn in the plot area');
  // Replicas sorted by name: pg-node-1, pg-node-2, pg-node-3 get palette colours 0, 1, 2.
  assert.deepEqual(replicaKeys(samples), ['pg-node-1', 'pg-node-2', 'pg-node-3']);
  for (const colour of PALETTE.slice(0, 3))
    assert.ok(countColour(png, colour, 30, PLOT) > 300, `series colour ${colour} drawn`);
  assert.equal(countColour(png, PALETTE[3], 20, PLOT), 0, 'no fourth series');
  assert.ok(countColour(png, '#b91c1c', 20, PLOT) > 100, 'failover threshold line');
});

test('lag chart with no samples: a titled empty chart saying so, not an error', () => {
  const svg = lagChartSvg({ cluster: 'odoo-cluster', from: FROM, to: TO, samples: [] });
  assert.match(svg, /no lag samples in this range/);
  const png = decodePng(lagChartPng({ cluster: 'odoo-cluster', from: FROM, to: TO, samples: [] }));
  for (const colour of PALETTE.slice(0, 3)) assert.equal(countColour(png, colour, 20, PLOT), 0);
});

test('lag chart SVG names the series, the leader change and the failover limit', () => {
  const svg = lagChartSvg({
    cluster: 'odoo <prod>',
    from: FROM,
    to: TO,
    samples: hourOfSamples(),
    thresholdBytes: 1_048_576,
  });
  assert.match(svg, /pg-node-3 bytes/);
  assert.match(svg, /pg-node-1 seconds/);
  assert.match(svg, /leader → pg-node-2/);
  assert.match(svg, /failover max 1\.0 MB/);
  assert.match(svg, /odoo &lt;prod&gt;/, 'the cluster name is escaped');
});

test('withGaps breaks the line where samples stop, instead of drawing across the outage', () => {
  const pts = [0, 15, 30, 45, 200, 215].map((s) => ({ at: s * 1000, value: s }));
  assert.deepEqual(withGaps(pts), [
    [0, 0],
    [15_000, 15],
    [30_000, 30],
    [45_000, 45],
    [60_000, null],
    [200_000, 200],
    [215_000, 215],
  ]);
  assert.deepEqual(withGaps([{ at: 5, value: 1 }]), [[5, 1]]);
});

test('leaderChanges: one change per new leader, none for the first one seen', () => {
  const s = (at: number, key: string): Sample => ({ series: 'leader', key, at, value: 1 });
  assert.deepEqual(leaderChanges([s(3, 'b'), s(1, 'a'), s(2, 'a'), s(4, 'b'), s(5, 'a')]), [
    { at: 3, leader: 'b' },
    { at: 5, leader: 'a' },
  ]);
});

const tr = (fingerprint: string, ruleId: string, to: Transition['to'], at: number): Transition => ({
  fingerprint,
  ruleId,
  labels: {},
  from: to === 'firing' ? 'pending' : 'firing',
  to,
  at,
  message: `${ruleId} ${to}`,
});

test('incidents pair each firing with its resolve; open ones stay open; a resolve without its firing starts at the range start', () => {
  const list = incidents(
    [
      tr('b', 'r2', 'firing', 50),
      tr('a', 'r1', 'resolved', 30),
      tr('a', 'r1', 'firing', 10),
      tr('c', 'r3', 'resolved', 5),
    ],
    0,
  );
  assert.deepEqual(
    list.map((x) => [x.ruleId, x.from, x.to]),
    [
      ['r3', 0, 5],
      ['r1', 10, 30],
      ['r2', 50, undefined],
    ],
  );
});

test('history timeline PNG: incident bars in severity colours, failovers as diamonds', () => {
  const transitions = [
    tr('a', 'patroni-replica-lag', 'firing', FROM + 600_000),
    tr('a', 'patroni-replica-lag', 'resolved', FROM + 1_500_000),
    tr('c', 'odoo-worker-health', 'firing', FROM + 3_000_000),
  ];
  const input = historyTimeline({
    cluster: 'odoo-cluster',
    from: FROM,
    to: TO,
    transitions,
    samples: hourOfSamples(),
    severityOf: (id) => (id.startsWith('odoo') ? 'warning' : 'critical'),
  });
  assert.deepEqual(
    input.marks.map((m) => [m.lane, m.at]),
    [[LEADER_LANE, FROM + 2_400_000]],
  );
  assert.equal(input.bars.find((b) => b.lane === 'odoo-worker-health')?.to, undefined, 'still open');
  assert.match(input.subtitle ?? '', /2 incident\(s\), 1 still open, 1 failover\(s\)/);
  const png = decodePng(timelinePng(input));
  const size = timelineSize(input);
  assert.equal(png.width, size.width);
  assert.equal(png.height, size.height);
  assert.ok(countColour(png, SEVERITY_COLOUR.critical, 20) > 500, 'critical bar');
  assert.ok(countColour(png, SEVERITY_COLOUR.warning, 20) > 500, 'warning bar');
  assert.ok(countColour(png, FAILOVER_COLOUR, 20) > 50, 'failover diamond');
  assert.equal(countColour(png, SEVERITY_COLOUR.info, 12), 0, 'no info incident');
});

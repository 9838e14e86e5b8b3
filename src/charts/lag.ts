/**
 * Replication lag per replica over a time range, from the `lag_bytes` / `lag_seconds` series:
 * bytes behind the leader (solid, left axis) and replay delay in seconds (dashed, right axis),
 * the failover threshold as a red line, leader changes as vertical markers.
 */
import type { EChartsOption, SeriesOption } from 'echarts';
import { SERIES } from '../series/samples.js';
import type { Sample } from '../store/store.js';
import { formatBytes } from '../sources/patroni/parse.js';
import { hhmm, PALETTE, renderPng, renderSvg, type ChartSize } from './render.js';

export interface LagChartInput {
  cluster: string;
  from: number;
  to: number;
  samples: readonly Sample[];
  /** Patroni's maximum_lag_on_failover: drawn as the line above which a replica is no failover candidate. */
  thresholdBytes?: number;
}

export const LAG_CHART_SIZE: ChartSize = { width: 900, height: 420 };

type Point = [number, number | null];

/** Points of one key in time order, with a null where samples stop for a while (a gap, not a straight line across an outage). */
export function withGaps(points: readonly { at: number; value: number }[]): Point[] {
  const sorted = [...points].sort((a, b) => a.at - b.at);
  const diffs = sorted
    .slice(1)
    .map((p, i) => p.at - sorted[i]!.at)
    .sort((a, b) => a - b);
  const typical = diffs.length ? diffs[Math.floor(diffs.length / 2)]! : 0;
  const out: Point[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && typical > 0 && sorted[i]!.at - sorted[i - 1]!.at > 3 * typical)
      out.push([sorted[i - 1]!.at + typical, null]);
    out.push([sorted[i]!.at, sorted[i]!.value]);
  }
  return out;
}

function byKey(samples: readonly Sample[], series: string): Map<string, Sample[]> {
  const m = new Map<string, Sample[]>();
  for (const s of samples) if (s.series === series) m.set(s.key, [...(m.get(s.key) ?? []), s]);
  return m;
}

/** Times at which the leader changed (from the `leader` series), with the new leader. */
export function leaderChanges(samples: readonly Sample[]): { at: number; leader: string }[] {
  const points = samples.filter((s) => s.series === SERIES.leader && s.value > 0).sort((a, b) => a.at - b.at);
  const out: { at: number; leader: string }[] = [];
  let last: string | undefined;
  for (const p of points) {
    if (last !== undefined && p.key !== last) out.push({ at: p.at, leader: p.key });
    last = p.key;
  }
  return out;
}

/** Replicas in a stable order (by name), so colours do not swap between charts. */
export function replicaKeys(samples: readonly Sample[]): string[] {
  return [
    ...new Set(samples.filter((s) => s.series === SERIES.lagBytes || s.series === SERIES.lagSeconds).map((s) => s.key)),
  ].sort();
}

export function lagChartOption(i: LagChartInput): EChartsOption {
  const keys = replicaKeys(i.samples);
  const bytes = byKey(i.samples, SERIES.lagBytes);
  const secs = byKey(i.samples, SERIES.lagSeconds);
  const series: SeriesOption[] = [];
  keys.forEach((k, n) => {
    const color = PALETTE[n % PALETTE.length]!;
    const b = bytes.get(k);
    if (b)
      series.push({
        type: 'line',
        name: `${k} bytes`,
        yAxisIndex: 0,
        showSymbol: b.length < 3,
        symbolSize: 6,
        data: withGaps(b),
        lineStyle: { width: 2.5, color },
        itemStyle: { color },
        connectNulls: false,
      });
    const s = secs.get(k);
    if (s)
      series.push({
        type: 'line',
        name: `${k} seconds`,
        yAxisIndex: 1,
        showSymbol: s.length < 3,
        symbolSize: 5,
        data: withGaps(s),
        lineStyle: { width: 1.5, type: 'dashed', color },
        itemStyle: { color },
        connectNulls: false,
      });
  });
  const marks = leaderChanges(i.samples);
  if (series.length > 0) {
    const first = series[0] as { markLine?: unknown };
    const lines: unknown[] = marks.map((m) => ({
      xAxis: m.at,
      label: { formatter: `leader → ${m.leader}`, color: '#111827' },
      lineStyle: { color: '#6b7280', type: 'solid', width: 1 },
    }));
    if (i.thresholdBytes !== undefined)
      lines.push({
        yAxis: i.thresholdBytes,
        label: {
          formatter: `failover max ${formatBytes(i.thresholdBytes)}`,
          position: 'insideEndTop',
          color: '#b91c1c',
        },
        lineStyle: { color: '#b91c1c', type: 'dashed', width: 2 },
      });
    if (lines.length) first.markLine = { symbol: 'none', silent: true, data: lines };
  }
  const span = i.to - i.from;
  return {
    title: {
      text: `Replication lag — ${i.cluster}`,
      subtext: `${new Date(i.from).toISOString().slice(0, 16).replace('T', ' ')} → ${hhmm(i.to)} UTC${keys.length === 0 ? ' · no lag samples in this range' : ''}`,
      left: 12,
      top: 6,
      textStyle: { fontSize: 16 },
    },
    legend: { bottom: 6, left: 'center', itemWidth: 18, textStyle: { fontSize: 11 } },
    grid: { left: 78, right: 64, top: 86, bottom: 66 },
    xAxis: {
      type: 'time',
      min: i.from,
      max: i.to,
      axisLabel: {
        // Dates over two days, minutes over a quarter hour, seconds below (else a short range repeats one minute).
        formatter: (v: number) =>
          span > 2 * 86_400_000
            ? new Date(v).toISOString().slice(5, 10)
            : span > 15 * 60_000
              ? hhmm(v)
              : new Date(v).toISOString().slice(11, 19),
      },
      splitLine: { show: true, lineStyle: { color: '#eef0f3' } },
    },
    yAxis: [
      {
        type: 'value',
        name: 'bytes behind',
        min: 0,
        axisLabel: { formatter: (v: number) => formatBytes(v) },
        splitLine: { lineStyle: { color: '#eef0f3' } },
      },
      { type: 'value', name: 'seconds', min: 0, splitLine: { show: false } },
    ],
    series: series.length ? series : [{ type: 'line', data: [] }],
  };
}

export const lagChartSvg = (i: LagChartInput, size = LAG_CHART_SIZE): string => renderSvg(lagChartOption(i), size);
export const lagChartPng = (i: LagChartInput, size = LAG_CHART_SIZE): Buffer => renderPng(lagChartOption(i), size);

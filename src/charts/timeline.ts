/**
 * A timeline: one lane per thing (a rule, "leader"), bars for intervals (an incident from firing
 * to resolved; still open = up to the right edge), diamonds for instants (a failover). Drawn as
 * thick line segments on a category axis: no custom renderItem, so the SSR output is plain SVG.
 */
import type { EChartsOption, SeriesOption } from 'echarts';
import { hhmm, renderPng, renderSvg, type ChartSize } from './render.js';

export interface TimelineBar {
  lane: string;
  from: number;
  to?: number;
  color: string;
  label?: string;
}
export interface TimelineMark {
  lane: string;
  at: number;
  color: string;
  label: string;
}
export interface TimelineInput {
  title: string;
  subtitle?: string;
  from: number;
  to: number;
  bars: readonly TimelineBar[];
  marks: readonly TimelineMark[];
}

export const SEVERITY_COLOUR = { critical: '#dc2626', warning: '#ea580c', info: '#2563eb' } as const;
export const FAILOVER_COLOUR = '#7c3aed';

export function timelineOption(i: TimelineInput): EChartsOption {
  const lanes = [...new Set([...i.marks.map((m) => m.lane), ...i.bars.map((b) => b.lane)])];
  const byColour = new Map<string, (number | string | null)[][]>();
  for (const b of i.bars) {
    const pts = byColour.get(b.color) ?? [];
    pts.push([Math.max(b.from, i.from), b.lane], [Math.min(b.to ?? i.to, i.to), b.lane], [null, null]);
    byColour.set(b.color, pts);
  }
  const series: SeriesOption[] = [...byColour].map(([color, data]) => ({
    type: 'line',
    data,
    showSymbol: false,
    connectNulls: false,
    silent: true,
    lineStyle: { width: 14, color, cap: 'butt' },
    itemStyle: { color },
  }));
  if (i.marks.length) {
    series.push({
      type: 'scatter',
      symbol: 'diamond',
      symbolSize: 16,
      itemStyle: { opacity: 1 },
      data: i.marks.map((m) => ({
        value: [m.at, m.lane],
        itemStyle: { color: m.color },
        label: { show: true, formatter: m.label, position: 'top', fontSize: 11, color: '#111827' },
      })),
    });
  }
  const span = i.to - i.from;
  const laneHeight = Math.max(1, lanes.length);
  return {
    title: {
      text: i.title,
      ...(i.subtitle ? { subtext: i.subtitle } : {}),
      left: 12,
      top: 6,
      textStyle: { fontSize: 16 },
    },
    grid: { left: 190, right: 30, top: 70, bottom: 40 },
    xAxis: {
      type: 'time',
      min: i.from,
      max: i.to,
      axisLabel: {
        formatter: (v: number) => (span > 2 * 86_400_000 ? new Date(v).toISOString().slice(5, 10) : hhmm(v)),
      },
      splitLine: { show: true, lineStyle: { color: '#eef0f3' } },
    },
    yAxis: {
      type: 'category',
      data: lanes.length ? lanes : ['(nothing recorded)'],
      inverse: true,
      axisLabel: { width: 170, overflow: 'truncate', fontSize: laneHeight > 12 ? 10 : 12 },
      splitLine: { show: true, lineStyle: { color: '#f3f4f6' } },
    },
    series: series.length ? series : [{ type: 'line', data: [] }],
  };
}

/** Taller with more lanes, so a busy day stays readable. */
export function timelineSize(i: TimelineInput): ChartSize {
  const lanes = new Set([...i.marks.map((m) => m.lane), ...i.bars.map((b) => b.lane)]).size;
  return { width: 900, height: Math.min(1400, 140 + 36 * Math.max(2, lanes)) };
}

export const timelineSvg = (i: TimelineInput): string => renderSvg(timelineOption(i), timelineSize(i));
export const timelinePng = (i: TimelineInput): Buffer => renderPng(timelineOption(i), timelineSize(i));

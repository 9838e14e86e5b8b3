/**
 * Server-side chart rendering without a browser or a native build step: ECharts' SSR SVG renderer
 * (pure JS) and resvg (a prebuilt Rust binary per platform, no compiler) turning the SVG into a PNG
 * for Telegram's sendPhoto. Fonts: the system's (DejaVu on Debian).
 */
import { Resvg } from '@resvg/resvg-js';
import * as echarts from 'echarts';

export interface ChartSize {
  width: number;
  height: number;
}

/** Series colours, in order: fixed so a replica keeps its colour between charts (and tests can find them). */
export const PALETTE = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#9333ea',
  '#ea580c',
  '#0891b2',
  '#ca8a04',
  '#db2777',
] as const;

export const FONT = 'DejaVu Sans, sans-serif';

/** Renders an ECharts option to an SVG string (no animation: one frame, the final one). */
export function renderSvg(option: echarts.EChartsOption, size: ChartSize): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: size.width, height: size.height });
  try {
    chart.setOption({ animation: false, backgroundColor: '#ffffff', textStyle: { fontFamily: FONT }, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/** SVG → PNG. Encodes straight to PNG (reading `pixels` would copy the whole buffer). */
export function svgToPng(svg: string): Buffer {
  return new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: '#ffffff' })
    .render()
    .asPng();
}

export const renderPng = (option: echarts.EChartsOption, size: ChartSize): Buffer => svgToPng(renderSvg(option, size));

/** "14:05" (UTC) for axis labels: on-call teams across time zones share one clock in the chat. */
export function hhmm(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

// A stacked bar chart as a PNG with axes, labels and a legend: Vega-Lite lays it out as SVG, resvg draws it with a bundled font.
import { createRequire } from 'node:module';
import type { TopLevelSpec } from 'vega-lite';

export interface BarSeries {
  name: string;
  /** RGB, e.g. [220, 38, 38]. */
  color: [number, number, number];
  /** One value per category, in the categories' order. */
  values: number[];
}

export interface StackedBarChart {
  title: string;
  /** The x axis, left to right (e.g. days). */
  categories: string[];
  /** Stacked bottom to top in this order; the legend lists them in the same order. */
  series: BarSeries[];
  /** The y axis title, e.g. "Incidents". */
  valueTitle: string;
  /** The legend title, e.g. "Severity". */
  seriesTitle: string;
}

// Drawn at twice the layout size, so text stays sharp on high-density screens.
const PIXEL_RATIO = 2;
// The container may have no system fonts: text is drawn with this file only, whatever the machine has.
const FONT_FAMILY = 'DejaVu Sans';

const hex = ([r, g, b]: [number, number, number]) => `#${[r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('')}`;

/** The Vega-Lite specification of the chart: integer value ticks, the series' own colours, stacked in the series' order. */
export function stackedBarSpec(chart: StackedBarChart, width: number, height: number): TopLevelSpec {
  const values = chart.series.flatMap((series, order) =>
    chart.categories.map((category, index) => ({ category, series: series.name, order, value: series.values[index] ?? 0 })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width,
    height,
    // The whole picture, axes and legend included, is width x height.
    autosize: { type: 'fit', contains: 'padding' },
    background: 'white',
    title: chart.title,
    data: { values },
    mark: 'bar',
    encoding: {
      x: {
        field: 'category',
        type: 'ordinal',
        sort: chart.categories,
        title: null,
        axis: { labelAngle: 0, labelOverlap: 'parity' },
      },
      y: {
        field: 'value',
        type: 'quantitative',
        aggregate: 'sum',
        stack: 'zero',
        title: chart.valueTitle,
        axis: { tickMinStep: 1, format: 'd' },
      },
      color: {
        field: 'series',
        type: 'nominal',
        title: chart.seriesTitle,
        scale: { domain: chart.series.map((s) => s.name), range: chart.series.map((s) => hex(s.color)) },
      },
      order: { field: 'order', type: 'quantitative' },
    },
    config: { font: FONT_FAMILY, view: { stroke: null } },
  };
}

/**
 * PNG bytes of the chart, `width` x `height` pixels. The renderer (vega, vega-lite, resvg) is loaded here, on the first
 * chart, not when the bot starts.
 */
export async function stackedBarChartPng(
  chart: StackedBarChart,
  options: { width?: number; height?: number } = {},
): Promise<Buffer> {
  const width = options.width ?? 1280;
  const height = options.height ?? 560;
  const [vega, vegaLite, { Resvg }] = await Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')]);
  const spec = vegaLite.compile(stackedBarSpec(chart, width / PIXEL_RATIO, height / PIXEL_RATIO)).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  const rendered = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: PIXEL_RATIO },
    background: 'white',
    font: { loadSystemFonts: false, fontFiles: [fontFile()], defaultFontFamily: FONT_FAMILY },
  }).render();
  return rendered.asPng();
}

/** Found when a chart is drawn, like the renderer: a missing package costs the chart, never the start. */
function fontFile(): string {
  return createRequire(import.meta.url).resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf');
}

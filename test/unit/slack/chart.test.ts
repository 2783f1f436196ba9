// The report's chart: a PNG of the asked size whose bars stand where the numbers say, with axis labels and a legend drawn as text.
import { describe, expect, it } from 'vitest';
import { stackedBarChartPng, type BarSeries, type StackedBarChart } from '../../../src/slack/chart.ts';
import { reportChart } from '../../../src/slack/report-blocks.ts';
import type { OperationsReport } from '../../../src/tasks/report.ts';
import { decodePng, type DecodedPng } from '../../support/png.ts';

type Rgb = [number, number, number];
const RED: Rgb = [220, 38, 38];
const ORANGE: Rgb = [234, 88, 12];
const YELLOW: Rgb = [202, 138, 4];
const BLUE: Rgb = [37, 99, 235];

// Seven days: P0 3 on the first, P1 2 under P2 1 on the third, P3 1 on the sixth.
const series: BarSeries[] = [
  { name: 'P0', color: RED, values: [3, 0, 0, 0, 0, 0, 0] },
  { name: 'P1', color: ORANGE, values: [0, 0, 2, 0, 0, 0, 0] },
  { name: 'P2', color: YELLOW, values: [0, 0, 1, 0, 0, 0, 0] },
  { name: 'P3', color: BLUE, values: [0, 0, 0, 0, 0, 1, 0] },
];
const chart: StackedBarChart = {
  title: 'Incidents per day',
  categories: ['16 Nov', '17 Nov', '18 Nov', '19 Nov', '20 Nov', '21 Nov', '22 Nov'],
  series,
  valueTitle: 'Incidents',
  seriesTitle: 'Severity',
};

interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}
const width = (box: Box) => box.right - box.left + 1;
const height = (box: Box) => box.bottom - box.top + 1;
const centre = (box: Box) => (box.left + box.right) / 2;

/** Areas of exactly this colour, one per run of neighbouring columns that have it, left to right. */
function boxesOf(png: DecodedPng, [r, g, b]: Rgb): Box[] {
  const boxes: Box[] = [];
  let open: Box | undefined;
  for (let x = 0; x < png.width; x += 1) {
    let top = -1;
    let bottom = -1;
    for (let y = 0; y < png.height; y += 1) {
      const [pr, pg, pb] = png.pixel(x, y);
      if (pr === r && pg === g && pb === b) {
        if (top === -1) top = y;
        bottom = y;
      }
    }
    if (top === -1) {
      open = undefined;
      continue;
    }
    if (!open) {
      open = { left: x, right: x, top, bottom };
      boxes.push(open);
    } else {
      open.right = x;
      open.top = Math.min(open.top, top);
      open.bottom = Math.max(open.bottom, bottom);
    }
  }
  return boxes;
}

/** Pixels dark enough to be text (labels and titles are black; axis lines and gridlines are grey). */
function darkPixels(png: DecodedPng, area: Box): number {
  let count = 0;
  for (let y = Math.max(0, area.top); y <= Math.min(png.height - 1, area.bottom); y += 1)
    for (let x = Math.max(0, area.left); x <= Math.min(png.width - 1, area.right); x += 1) {
      const [r, g, b] = png.pixel(x, y);
      if (r < 100 && g < 100 && b < 100) count += 1;
    }
  return count;
}

describe('stackedBarChartPng', () => {
  it('is a PNG of the asked size', async () => {
    const standard = decodePng(await stackedBarChartPng(chart));
    expect([standard.width, standard.height]).toEqual([1280, 560]);
    const small = decodePng(await stackedBarChartPng(chart, { width: 800, height: 400 }));
    expect([small.width, small.height]).toEqual([800, 400]);
  });

  it('draws each bar in its day, as tall as its number, stacked in the series order on one baseline', async () => {
    const png = decodePng(await stackedBarChartPng(chart));
    // The widest area of a colour is its bar; a legend swatch is small.
    const bar = (color: Rgb) => boxesOf(png, color).sort((a, b) => width(b) - width(a))[0]!;
    const red = bar(RED);
    const orange = bar(ORANGE);
    const yellow = bar(YELLOW);
    const blue = bar(BLUE);
    expect(width(red)).toBeGreaterThan(60);

    // Days are evenly spaced: day 1, day 3 and day 6.
    const slot = (centre(blue) - centre(red)) / 5;
    expect(slot).toBeGreaterThan(80);
    expect(Math.abs(centre(orange) - (centre(red) + 2 * slot))).toBeLessThanOrEqual(2);
    expect(Math.abs(centre(yellow) - centre(orange))).toBeLessThanOrEqual(1);

    // Heights in proportion to the numbers (3, 2, 1, 1), on one baseline, P2 right on top of P1.
    const unit = height(blue);
    expect(unit).toBeGreaterThan(50);
    expect(Math.abs(height(red) - 3 * unit)).toBeLessThanOrEqual(3);
    expect(Math.abs(height(orange) - 2 * unit)).toBeLessThanOrEqual(3);
    expect(Math.abs(height(yellow) - unit)).toBeLessThanOrEqual(3);
    expect(Math.abs(red.bottom - blue.bottom)).toBeLessThanOrEqual(1);
    expect(Math.abs(orange.bottom - blue.bottom)).toBeLessThanOrEqual(1);
    expect(Math.abs(yellow.bottom + 1 - orange.top)).toBeLessThanOrEqual(2);
  });

  it('has a legend with a swatch per series, top to bottom in order, right of the bars, and text on the axes and the legend', async () => {
    const png = decodePng(await stackedBarChartPng(chart));
    const bars = [RED, ORANGE, YELLOW, BLUE].map((color) => boxesOf(png, color).sort((a, b) => width(b) - width(a))[0]!);
    const plotRight = Math.max(...bars.map((box) => box.right));
    const plotLeft = Math.min(...bars.map((box) => box.left));
    const baseline = Math.max(...bars.map((box) => box.bottom));

    const swatches = [RED, ORANGE, YELLOW, BLUE].map((color) => boxesOf(png, color).find((box) => box.left > plotRight + 20));
    for (const swatch of swatches) {
      expect(swatch).toBeDefined();
      expect(width(swatch!)).toBeLessThan(40);
    }
    const tops = swatches.map((swatch) => swatch!.top);
    expect(tops).toEqual([...tops].sort((a, b) => a - b));
    expect(new Set(tops).size).toBe(4);

    const legendRight = Math.max(...swatches.map((swatch) => swatch!.right));
    // Legend labels ("P0".."P3") and its title beside the swatches.
    expect(darkPixels(png, { left: legendRight + 1, right: png.width - 1, top: 0, bottom: png.height - 1 })).toBeGreaterThan(100);
    // Value labels and the axis title left of the bars.
    expect(darkPixels(png, { left: 0, right: plotLeft - 10, top: 0, bottom: baseline })).toBeGreaterThan(100);
    // Day labels under the bars.
    expect(darkPixels(png, { left: plotLeft, right: plotRight, top: baseline + 2, bottom: png.height - 1 })).toBeGreaterThan(200);
    // The title above the bars.
    expect(
      darkPixels(png, { left: plotLeft, right: plotRight, top: 0, bottom: Math.min(...bars.map((box) => box.top)) - 1 }),
    ).toBeGreaterThan(100);
  });
});

describe('reportChart', () => {
  const report = (perDay: OperationsReport['incidents']['perDay']) => ({ incidents: { perDay } }) as unknown as OperationsReport;
  const day = (date: string, counts: Partial<Record<'P0' | 'P1' | 'P2' | 'P3', number>> = {}) => ({
    day: date,
    counts: { P0: 0, P1: 0, P2: 0, P3: 0, ...counts },
  });

  it('draws a week without incidents: axes and labels, no bars', async () => {
    const days = Array.from({ length: 7 }, (_, i) => day(`2026-11-${16 + i}`));
    const png = decodePng(await reportChart(report(days)));
    expect([png.width, png.height]).toEqual([1280, 560]);
    for (const color of [RED, ORANGE, YELLOW, BLUE]) expect(boxesOf(png, color).every((box) => width(box) < 40)).toBe(true);
    expect(darkPixels(png, { left: 0, right: png.width - 1, top: 0, bottom: png.height - 1 })).toBeGreaterThan(500);
  });

  it('draws thirty days with a bar on the days that had incidents', async () => {
    const days = Array.from({ length: 30 }, (_, i) =>
      day(new Date(Date.UTC(2026, 10, 1 + i)).toISOString().slice(0, 10), i === 29 ? { P0: 2 } : {}),
    );
    const png = decodePng(await reportChart(report(days)));
    const red = boxesOf(png, RED).sort((a, b) => width(b) - width(a));
    // One bar (the last day, rightmost) and the legend swatch right of it.
    expect(red).toHaveLength(2);
    expect(red[0]!.right).toBeLessThan(red[1]!.left);
  });
});

// A stacked bar chart as a PNG, drawn in-process (no canvas, no fonts: the legend goes in the message text).
import { deflateSync } from 'node:zlib';

export interface BarSeries {
  name: string;
  /** RGB, e.g. [220, 38, 38]. */
  color: [number, number, number];
  values: number[];
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buffer: Buffer): number {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

/** PNG bytes of bars stacked per column, columns left to right, scaled to the tallest stack, with a baseline and gridlines. */
export function stackedBarChartPng(series: BarSeries[], options: { width?: number; height?: number } = {}): Buffer {
  const width = options.width ?? 640;
  const height = options.height ?? 240;
  const columns = Math.max(1, ...series.map((s) => s.values.length));
  const totals = Array.from({ length: columns }, (_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const pixels = Buffer.alloc(width * height * 3, 255);
  const set = (x: number, y: number, [r, g, b]: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (y * width + x) * 3;
    pixels[i] = r;
    pixels[i + 1] = g;
    pixels[i + 2] = b;
  };
  const margin = 16;
  const plotHeight = height - 2 * margin;
  // Gridlines at each whole unit when few, else at quarters.
  const steps = max <= 8 ? max : 4;
  for (let g = 0; g <= steps; g += 1) {
    const y = height - margin - Math.round((g / steps) * plotHeight);
    for (let x = margin; x < width - margin; x += 1) set(x, y, g === 0 ? [60, 60, 60] : [225, 225, 225]);
  }
  const slot = (width - 2 * margin) / columns;
  const barWidth = Math.max(1, Math.floor(slot * 0.7));
  for (let column = 0; column < columns; column += 1) {
    let base = height - margin - 1;
    const left = Math.round(margin + column * slot + (slot - barWidth) / 2);
    for (const s of series) {
      const value = s.values[column] ?? 0;
      const barHeight = Math.round((value / max) * plotHeight);
      for (let y = base; y > base - barHeight; y -= 1) for (let x = left; x < left + barWidth; x += 1) set(x, y, s.color);
      base -= barHeight;
    }
  }
  // Each row starts with filter type 0 (None).
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y += 1) pixels.copy(raw, y * (width * 3 + 1) + 1, y * width * 3, (y + 1) * width * 3);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

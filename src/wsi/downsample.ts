// Whole-slide views at low resolution (segmentation input, thumbnails, overviews): the best pyramid
// level for the wanted downsample, read in horizontal bands and area-averaged to the exact output
// size. Area averaging (each output pixel the mean of the level pixels it covers, fractional
// coverage included) is what cv2's INTER_AREA does and what a mask threshold wants: no ringing, no
// aliasing. Written here rather than with sharp because the level is read band by band (a slide
// with no pyramid can be tens of gigapixels), and a band-wise area average has no seams, where
// resizing each band separately would have them.
import type { RgbImage } from '../data/image.ts';
import type { Progress } from '../util/progress.ts';
import { rgbaToRgb, type Slide } from './slide.ts';

/** Level pixels read per band (×4 bytes): bounds memory on slides without a usable pyramid. */
const BAND_PIXELS = 2 ** 25;

export interface DownsampledView {
  image: RgbImage;
  /** Level that was read. */
  level: number;
  /** Level-0 pixels per output pixel along x and y (level-0 size / output size). */
  scaleX: number;
  scaleY: number;
}

export interface DownsampleOptions {
  /** Colour under transparent pixels (default white, as openslide-python's thumbnails). */
  background?: readonly [number, number, number];
  /** Level pixels read per band (bounds memory; default 2²⁵). */
  bandPixels?: number;
  /** Told the level's row count, then the rows read so far. */
  progress?: Progress;
}

/** Background colour a slide asks for (openslide.background-color, hex RRGGBB), else white. */
export function slideBackground(slide: Slide): [number, number, number] {
  const hex = slide.properties['openslide.background-color'];
  if (hex !== undefined && /^[0-9a-fA-F]{6}$/.test(hex))
    return [parseInt(hex.slice(0, 2), 16), parseInt(hex.slice(2, 4), 16), parseInt(hex.slice(4, 6), 16)];
  return [255, 255, 255];
}

/** The output size for a downsample: level-0 size / downsample, rounded, at least 1. */
export function downsampledSize(slide: Slide, downsample: number): [number, number] {
  return [
    Math.max(1, Math.round(slide.width / downsample)),
    Math.max(1, Math.round(slide.height / downsample)),
  ];
}

/**
 * The whole slide as width×height RGB. Reads the level whose downsample is the largest one not
 * above the wanted one (never upsampling), so a level that already has the size is copied as is.
 */
export async function readDownsampled(
  slide: Slide,
  width: number,
  height: number,
  options: DownsampleOptions = {},
): Promise<DownsampledView> {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new RangeError(`bad output size ${width}×${height}`);
  const wanted = Math.min(slide.width / width, slide.height / height);
  // A small tolerance: pyramid downsamples are rarely exact (2.0005 for a halved odd size).
  const level = slide.bestLevelForDownsample(wanted * 1.001);
  const lw = slide.levels[level]!.width;
  const lh = slide.levels[level]!.height;
  const outW = Math.min(width, lw);
  const outH = Math.min(height, lh);
  const background = options.background ?? slideBackground(slide);
  const bandPixels = options.bandPixels ?? BAND_PIXELS;
  if (outW === lw && outH === lh && lw * lh <= bandPixels) {
    // The level already has the size: a copy, transparent pixels composited onto the background.
    const region = await slide.readRegion(0, 0, level, lw, lh);
    return {
      image: rgbaToRgb(region, background),
      level,
      scaleX: slide.width / outW,
      scaleY: slide.height / outH,
    };
  }
  const area = new AreaAverager(lw, lh, outW, outH);
  const bandRows = Math.max(1, Math.min(lh, Math.floor(bandPixels / lw)));
  const ds = slide.levels[level]!.downsample;
  options.progress?.setTotal(lh);
  for (let y = 0; y < lh; y += bandRows) {
    const rows = Math.min(bandRows, lh - y);
    // Level-0 coordinates of the band: exact for the first band; later bands of a level whose
    // downsample is not an integer start within a fraction of a pixel of where they should.
    const band = await slide.readRegion(0, Math.round(y * ds), level, lw, rows);
    area.addRows(y, rows, band.data, background);
    options.progress?.update(y + rows);
  }
  return { image: area.result(), level, scaleX: slide.width / outW, scaleY: slide.height / outH };
}

/** The whole slide with its longer side at most maxSide (never enlarged), aspect kept. */
export async function thumbnail(
  slide: Slide,
  maxSide: number,
  options: DownsampleOptions = {},
): Promise<DownsampledView> {
  const ds = Math.max(1, Math.max(slide.width, slide.height) / maxSide);
  const [w, h] = downsampledSize(slide, ds);
  return readDownsampled(slide, w, h, options);
}

/**
 * Accumulates a sw×sh RGBA source, row band by row band, into a dw×dh RGB area average.
 * Each source pixel covers [x·dw/sw, (x+1)·dw/sw) in output units: at most two output columns
 * (and rows) when downscaling, with the split weights precomputed per column.
 */
class AreaAverager {
  private readonly sums: Float64Array;
  private readonly weights: Float64Array;
  private readonly col0: Int32Array;
  private readonly colW0: Float64Array;
  private readonly row: Float64Array;
  private readonly rowWeight: Float64Array;

  constructor(
    private readonly sw: number,
    private readonly sh: number,
    private readonly dw: number,
    private readonly dh: number,
  ) {
    this.sums = new Float64Array(dw * dh * 3);
    this.weights = new Float64Array(dw * dh);
    this.col0 = new Int32Array(sw);
    this.colW0 = new Float64Array(sw);
    const fx = dw / sw;
    for (let x = 0; x < sw; x++) {
      const a = x * fx;
      const b = (x + 1) * fx;
      const c = Math.min(Math.floor(a), dw - 1);
      this.col0[x] = c;
      // Share of this pixel in output column c (the rest, if any, goes to c + 1).
      this.colW0[x] = b <= c + 1 ? 1 : (c + 1 - a) / fx;
    }
    this.row = new Float64Array(dw * 3);
    this.rowWeight = new Float64Array(dw);
  }

  addRows(y0: number, rows: number, rgba: Uint8Array, bg: readonly [number, number, number]): void {
    const { sw, sh, dh, col0, colW0, row, rowWeight } = this;
    const fy = dh / sh;
    for (let r = 0; r < rows; r++) {
      row.fill(0);
      rowWeight.fill(0);
      const base = r * sw * 4;
      for (let x = 0; x < sw; x++) {
        const o = base + x * 4;
        let red = rgba[o]!;
        let green = rgba[o + 1]!;
        let blue = rgba[o + 2]!;
        const a = rgba[o + 3]!;
        if (a !== 255) {
          red = (red * a + bg[0] * (255 - a)) / 255;
          green = (green * a + bg[1] * (255 - a)) / 255;
          blue = (blue * a + bg[2] * (255 - a)) / 255;
        }
        const c = col0[x]!;
        const w0 = colW0[x]!;
        row[c * 3] = row[c * 3]! + w0 * red;
        row[c * 3 + 1] = row[c * 3 + 1]! + w0 * green;
        row[c * 3 + 2] = row[c * 3 + 2]! + w0 * blue;
        rowWeight[c] = rowWeight[c]! + w0;
        if (w0 < 1) {
          const w1 = 1 - w0;
          row[c * 3 + 3] = row[c * 3 + 3]! + w1 * red;
          row[c * 3 + 4] = row[c * 3 + 4]! + w1 * green;
          row[c * 3 + 5] = row[c * 3 + 5]! + w1 * blue;
          rowWeight[c + 1] = rowWeight[c + 1]! + w1;
        }
      }
      const y = y0 + r;
      const a = y * fy;
      const b = (y + 1) * fy;
      const d = Math.min(Math.floor(a), dh - 1);
      const v0 = b <= d + 1 ? 1 : (d + 1 - a) / fy;
      this.accumulate(d, v0);
      if (v0 < 1) this.accumulate(d + 1, 1 - v0);
    }
  }

  private accumulate(outRow: number, v: number): void {
    const { row, rowWeight, sums, weights, dw } = this;
    const so = outRow * dw;
    for (let c = 0; c < dw; c++) {
      sums[(so + c) * 3] = sums[(so + c) * 3]! + v * row[c * 3]!;
      sums[(so + c) * 3 + 1] = sums[(so + c) * 3 + 1]! + v * row[c * 3 + 1]!;
      sums[(so + c) * 3 + 2] = sums[(so + c) * 3 + 2]! + v * row[c * 3 + 2]!;
      weights[so + c] = weights[so + c]! + v * rowWeight[c]!;
    }
  }

  result(): RgbImage {
    const { dw, dh, sums, weights } = this;
    const data = new Uint8Array(dw * dh * 3);
    for (let i = 0; i < dw * dh; i++) {
      const w = weights[i]!;
      if (w === 0) continue;
      data[i * 3] = Math.round(sums[i * 3]! / w);
      data[i * 3 + 1] = Math.round(sums[i * 3 + 1]! / w);
      data[i * 3 + 2] = Math.round(sums[i * 3 + 2]! / w);
    }
    return { width: dw, height: dh, data };
  }
}

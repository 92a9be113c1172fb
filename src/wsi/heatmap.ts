// Per-class score heatmaps over a slide thumbnail: every patch's rectangle is coloured by its score
// and blended over the tissue, the rest of the thumbnail is left as it is (as CLAM draws them).
//
// Colour maps: viridis (default; perceptually uniform, readable in greyscale and by colour-blind
// readers) or turbo (Google's improved jet, for users who expect CLAM's jet look), both from
// d3-scale-chromatic. Scores are normalised per slide by percentile rank (CLAM's default,
// `convert_to_percentiles`: the colour shows where a patch ranks within its slide, so the map is
// informative even for an untrained model whose cosines all sit within 0.01) or mapped from a fixed
// range (raw cosine, comparable across slides).
import { interpolateTurbo, interpolateViridis } from 'd3-scale-chromatic';
import sharp from 'sharp';
import type { RgbImage } from '../data/image.ts';
import { writeFileAtomic } from '../util/atomic.ts';

export type Colormap = 'viridis' | 'turbo';

export type ScoreScale = { kind: 'percentile' } | { kind: 'range'; min: number; max: number };

export interface HeatmapInput {
  /** The slide at low resolution. */
  thumbnail: RgbImage;
  /** Level-0 size of the slide the thumbnail shows (sets the scale of `coords`). */
  slideWidth: number;
  slideHeight: number;
  /** Row-major [N, 2] level-0 top-left corners. */
  coords: ArrayLike<number>;
  /** Patch side in level-0 pixels. */
  patchSizeLevel0: number;
  /** One score per patch. */
  values: ArrayLike<number>;
  /** Default: percentile rank within the slide. */
  scale?: ScoreScale;
  colormap?: Colormap;
  /** Weight of the colour over the thumbnail, 0–1 (default 0.5). */
  alpha?: number;
}

const LUT_SIZE = 256;
const luts = new Map<Colormap, Uint8Array>();

function parseColour(css: string): [number, number, number] {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(css);
  if (hex) return [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16), parseInt(hex[3]!, 16)];
  const rgb = /^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/.exec(css);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  throw new Error(`unexpected colour ${css}`);
}

/** 256 RGB triples sampled evenly along the colour map. */
export function colormapTable(name: Colormap): Uint8Array {
  let lut = luts.get(name);
  if (!lut) {
    const f = name === 'viridis' ? interpolateViridis : interpolateTurbo;
    lut = new Uint8Array(LUT_SIZE * 3);
    for (let i = 0; i < LUT_SIZE; i++) lut.set(parseColour(f(i / (LUT_SIZE - 1))), i * 3);
    luts.set(name, lut);
  }
  return lut;
}

/**
 * scipy.stats.percentileofscore(values, v, kind='rank') / 100 for every v (what CLAM's heatmaps
 * use): the mean of the strict and weak percentages, ties sharing their average rank. The highest
 * score maps to 1, the lowest unique one to 1/N.
 */
export function percentileRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const out = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]!] === values[order[i]!]) j++;
    // left = count(< v) = i, right = count(≤ v) = j + 1; scipy 'rank' = (left + right + 1) / 2 / n.
    const rank = (i + j + 2) / 2 / n;
    for (let t = i; t <= j; t++) out[order[t]!] = rank;
    i = j + 1;
  }
  return out;
}

/** Scores to 0–1 colour positions. */
export function normaliseScores(values: ArrayLike<number>, scale: ScoreScale): Float64Array {
  if (scale.kind === 'percentile') return percentileRanks(values);
  const { min, max } = scale;
  if (!(max > min)) throw new RangeError(`score range needs max > min, got [${min}, ${max}]`);
  return Float64Array.from(values as ArrayLike<number>, (v) =>
    Math.min(1, Math.max(0, (v - min) / (max - min))),
  );
}

/** The thumbnail with each patch coloured by its score; overlapping patches average their scores. */
export function renderHeatmap(input: HeatmapInput): RgbImage {
  const { thumbnail, coords, values, patchSizeLevel0 } = input;
  const n = values.length;
  if (coords.length !== 2 * n) throw new RangeError(`${coords.length / 2} coordinates for ${n} scores`);
  const alpha = input.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`alpha must be within 0–1, got ${alpha}`);
  const { width: w, height: h } = thumbnail;
  const sx = w / input.slideWidth;
  const sy = h / input.slideHeight;
  const positions = normaliseScores(values, input.scale ?? { kind: 'percentile' });
  const sum = new Float64Array(w * h);
  const count = new Uint16Array(w * h);
  for (let p = 0; p < n; p++) {
    const x = coords[2 * p]!;
    const y = coords[2 * p + 1]!;
    // Rounded edges tile neighbouring patches without gaps or double cover; at least one pixel each.
    const x0 = Math.max(0, Math.round(x * sx));
    const y0 = Math.max(0, Math.round(y * sy));
    const x1 = Math.min(w, Math.max(x0 + 1, Math.round((x + patchSizeLevel0) * sx)));
    const y1 = Math.min(h, Math.max(y0 + 1, Math.round((y + patchSizeLevel0) * sy)));
    const v = positions[p]!;
    for (let yy = y0; yy < y1; yy++)
      for (let xx = x0; xx < x1; xx++) {
        sum[yy * w + xx]! += v;
        count[yy * w + xx]!++;
      }
  }
  const lut = colormapTable(input.colormap ?? 'viridis');
  const out = new Uint8Array(thumbnail.data);
  for (let i = 0; i < w * h; i++) {
    if (count[i] === 0) continue;
    const idx = Math.min(LUT_SIZE - 1, Math.round((sum[i]! / count[i]!) * (LUT_SIZE - 1)));
    for (let c = 0; c < 3; c++)
      out[i * 3 + c] = Math.round(alpha * lut[idx * 3 + c]! + (1 - alpha) * thumbnail.data[i * 3 + c]!);
  }
  return { width: w, height: h, data: out };
}

/**
 * RGB pixels → PNG file, written atomically. `palette` quantises to 256 colours (libimagequant,
 * dithered): a third of the size for a heatmap over tissue, with no difference that shows.
 */
export async function writePng(
  path: string,
  image: RgbImage,
  options: { palette?: boolean } = {},
): Promise<void> {
  const png = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png(options.palette ? { palette: true } : {})
    .toBuffer();
  writeFileAtomic(path, png);
}

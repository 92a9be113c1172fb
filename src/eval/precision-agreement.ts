// What a lower precision changes in a model's outputs: per-row cosine of its embeddings to the fp32
// ones, and how often zero-shot predictions (the nearest class embedding) stay the same. Used by
// the int8 accuracy test and `npm run bench:int8`.
import sharp, { type Sharp } from 'sharp';
import type { RgbImage } from '../data/image.ts';

export interface PrecisionAgreement {
  cosineMean: number;
  cosineMin: number;
  /** Share of rows whose zero-shot prediction is the same under both precisions. */
  agreement: number;
  rows: number;
}

export function rowCosines(a: Float32Array, b: Float32Array, dim: number): number[] {
  if (a.length !== b.length || a.length % dim !== 0)
    throw new Error(`rowCosines: lengths ${a.length} and ${b.length} are not equal multiples of ${dim}`);
  const out: number[] = [];
  for (let r = 0; r < a.length / dim; r++) {
    let [ab, aa, bb] = [0, 0, 0];
    for (let i = r * dim; i < (r + 1) * dim; i++) {
      ab += a[i]! * b[i]!;
      aa += a[i]! * a[i]!;
      bb += b[i]! * b[i]!;
    }
    out.push(ab / Math.sqrt(aa * bb || 1));
  }
  return out;
}

/** Index of the class embedding with the highest dot product, per row. */
export function nearestClass(rows: Float32Array, classes: Float32Array, dim: number): number[] {
  const k = classes.length / dim;
  const out: number[] = [];
  for (let r = 0; r < rows.length / dim; r++) {
    let [best, bestScore] = [0, -Infinity];
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let i = 0; i < dim; i++) s += rows[r * dim + i]! * classes[c * dim + i]!;
      if (s > bestScore) [best, bestScore] = [c, s];
    }
    out.push(best);
  }
  return out;
}

/**
 * Compares embeddings under a reference and a lower precision. Predictions of each come from its
 * own class embeddings (the text tower under the same precision), as a user of that precision sees.
 */
export function precisionAgreement(
  reference: { rows: Float32Array; classes: Float32Array },
  lower: { rows: Float32Array; classes: Float32Array },
  dim: number,
): PrecisionAgreement {
  const cos = rowCosines(reference.rows, lower.rows, dim);
  const p = nearestClass(reference.rows, reference.classes, dim);
  const q = nearestClass(lower.rows, lower.classes, dim);
  return {
    cosineMean: cos.reduce((s, c) => s + c, 0) / cos.length,
    cosineMin: Math.min(...cos),
    agreement: p.filter((c, i) => c === q[i]).length / p.length,
    rows: cos.length,
  };
}

/**
 * Share of rows whose nearest other row (by cosine) is the same under both precisions: a check of
 * the local geometry retrieval depends on, which needs no class embeddings.
 */
export function neighbourAgreement(a: Float32Array, b: Float32Array, dim: number): number {
  const nearest = (x: Float32Array): number[] => {
    const n = x.length / dim;
    const rows = Array.from({ length: n }, (_, r) => x.subarray(r * dim, (r + 1) * dim));
    return rows.map((row, r) => {
      let [best, bestCos] = [-1, -Infinity];
      for (let o = 0; o < n; o++) {
        if (o === r) continue;
        const c = rowCosines(row, rows[o]!, dim)[0]!;
        if (c > bestCos) [best, bestCos] = [o, c];
      }
      return best;
    });
  };
  const p = nearest(a);
  const q = nearest(b);
  return p.filter((v, i) => v === q[i]).length / p.length;
}

/**
 * Up to `count` size×size RGB tiles cut on a grid from each image in turn (smaller images are
 * resized up to cover a tile), for checks on real tissue without a labelled set.
 */
export async function tilesFrom(paths: readonly string[], count: number, size: number): Promise<RgbImage[]> {
  const tiles: RgbImage[] = [];
  for (const [i, path] of paths.entries()) {
    // Images too small for their share leave it to the ones after them.
    const perImage = Math.ceil((count - tiles.length) / (paths.length - i));
    const meta = await sharp(path).metadata();
    const [w, h] = [meta.width ?? 0, meta.height ?? 0];
    if (w < size || h < size) {
      tiles.push(await raw(sharp(path).resize(size, size, { fit: 'cover' }), size));
      continue;
    }
    const cols = Math.floor(w / size);
    const cells = cols * Math.floor(h / size);
    const take = Math.min(perImage, cells);
    for (let i = 0; i < take; i++) {
      // Spread the tiles over the grid rather than taking the first row.
      const cell = Math.floor((i * cells) / take);
      const region = {
        left: (cell % cols) * size,
        top: Math.floor(cell / cols) * size,
        width: size,
        height: size,
      };
      tiles.push(await raw(sharp(path).extract(region), size));
    }
  }
  return tiles.slice(0, count);
}

async function raw(img: Sharp, size: number): Promise<RgbImage> {
  const data = await img.removeAlpha().toColourspace('srgb').raw().toBuffer();
  return { width: size, height: size, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

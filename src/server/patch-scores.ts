// Scores over a slide's stored patch features, for the viewer: a free-text query's cosine with every
// patch (text search over tissue: only the text is embedded, the patches' image features are read
// from features.h5 as `kep wsi run` stored them) and a class set's per-patch cosines, pooled into a
// slide prediction by MI-Zero's top-K mean as the run did.
import { type ClassEmbeddings, cosineScores } from '../eval/class-embeddings.ts';
import { argmax, DEFAULT_TOP_K, topKPool } from '../eval/slide-pooling.ts';

/** Unit-length patch features of one slide. */
export interface UnitFeatures {
  count: number;
  dim: number;
  /** [count, dim], unit rows. */
  unit: Float32Array;
  /** [count, 2] level-0 top-left corners. */
  coords: Int32Array;
}

export interface TopPatch {
  index: number;
  x: number;
  y: number;
  score: number;
}

/** Cosine of each patch with one unit-length query embedding. */
export function queryScores(f: UnitFeatures, query: Float32Array): Float32Array {
  if (query.length !== f.dim)
    throw new RangeError(`a query of ${query.length} values for features of ${f.dim}`);
  const out = new Float32Array(f.count);
  const { unit, dim } = f;
  for (let i = 0, o = 0; i < f.count; i++, o += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += unit[o + j]! * query[j]!;
    out[i] = s;
  }
  return out;
}

/** The k highest-scoring patches, best first (ties by index). A partial selection, not a full sort. */
export function topPatches(f: Pick<UnitFeatures, 'coords'>, scores: Float32Array, k: number): TopPatch[] {
  const best: number[] = [];
  const better = (a: number, b: number): boolean =>
    scores[a]! > scores[b]! || (scores[a] === scores[b] && a < b);
  for (let i = 0; i < scores.length && k > 0; i++) {
    if (best.length === k && !better(i, best[k - 1]!)) continue;
    let at = best.length;
    while (at > 0 && better(i, best[at - 1]!)) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best.map((i) => ({ index: i, x: f.coords[2 * i]!, y: f.coords[2 * i + 1]!, score: scores[i]! }));
}

export interface ClassScores {
  labels: string[];
  /** scores[class][patch]: cosine of each patch with each class. */
  scores: Float32Array[];
  /** The slide's top-K mean score per class for each K. */
  ks: number[];
  pooled: number[][];
  /** The prediction at the largest K (what summary.json calls the slide's prediction). */
  predicted: string;
}

export function classScores(f: UnitFeatures, classes: ClassEmbeddings): ClassScores {
  if (classes.dim !== f.dim)
    throw new RangeError(`class embeddings of width ${classes.dim} for features of width ${f.dim}`);
  const c = classes.labels.length;
  const flat = cosineScores(f.unit, classes);
  const scores = classes.labels.map((_, k) => {
    const col = new Float32Array(f.count);
    for (let p = 0; p < f.count; p++) col[p] = flat[p * c + k]!;
    return col;
  });
  const ks = [...DEFAULT_TOP_K];
  const pooled = f.count > 0 ? topKPool(flat, f.count, c, ks, 'mean').map((p) => Array.from(p)) : [];
  const last = pooled.at(-1);
  return {
    labels: [...classes.labels],
    scores,
    ks,
    pooled,
    predicted: last ? classes.labels[argmax(last)]! : '',
  };
}

/** Scores rounded for JSON (five decimals: cosines of an untrained model differ in the fourth). */
export function roundScores(v: ArrayLike<number>): number[] {
  return Array.from(v, (x) => Math.round(x * 1e5) / 1e5);
}

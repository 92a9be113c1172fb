// Hybrid ranking (issue 11): the learned encoder and BM25 fail differently — the encoder on wording
// it never saw, BM25 on texts that share no word with the query — so a ranker that fuses both can
// beat each. The fusion is a convex mix of per-query min–max normalised scores,
//
//   hybrid(q, d) = α · norm(cos(q, d)) + (1 − α) · norm(BM25(q, d)),
//
// with norm mapping each query's scores over the gallery onto [0, 1] (a constant row maps to 0). One
// parameter, α: α = 1 ranks exactly as the encoder, α = 0 exactly as BM25. A convex mix was chosen
// over reciprocal-rank fusion because it keeps how far apart the scores are, not only their order,
// and needs no sort of the gallery (Bruch et al. 2023, "An analysis of fusion functions for hybrid
// retrieval", found it the better of the two once its weight is tuned).
//
// α is chosen on training data (`fitHybridWeight`, on the calibration slice that `kep train
// knowledge` keeps out of training) by the mean mAP over the galleries; folders without a fitted
// weight use DEFAULT_HYBRID_WEIGHT.
import {
  type EvalSets,
  type Encode,
  type GalleryMetrics,
  type LexicalOptions,
  type ReidReport,
  PROMPT_KIND,
  embedTexts,
} from './galleries.ts';
import { lexicalScores } from './lexical.ts';
import { cosineScores, reid, type ScoreRows } from './reid.ts';

/** The weight of the encoder when none was fitted: an even mix. */
export const DEFAULT_HYBRID_WEIGHT = 0.5;
/** The weights tried when fitting: 0, 0.05, …, 1. */
export const WEIGHT_GRID: readonly number[] = Array.from({ length: 21 }, (_, i) => i / 20);

/** Maps `row` onto [0, 1] in place (min → 0, max → 1); a row with one value throughout becomes 0. */
export function minMaxInPlace(row: Float64Array | Float32Array): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of row) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const span = hi - lo;
  for (let i = 0; i < row.length; i++) row[i] = span > 0 ? (row[i]! - lo) / span : 0;
}

/** Score rows of the fusion of two scorers over the same gallery of `size` items. */
export function fusedScores(dense: ScoreRows, lexical: ScoreRows, size: number, alpha: number): ScoreRows {
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`hybrid weight must be in [0, 1], got ${alpha}`);
  const d = new Float64Array(size);
  const l = new Float64Array(size);
  return (q, out) => {
    dense(q, d);
    lexical(q, l);
    minMaxInPlace(d);
    minMaxInPlace(l);
    for (let i = 0; i < size; i++) out[i] = alpha * d[i]! + (1 - alpha) * l[i]!;
  };
}

/** The report of `kep eval knowledge`: the encoder, BM25 and their fusion on the same sets, each
 * text embedded once. */
export interface HybridReport extends ReidReport {
  hybrid: GalleryMetrics;
}

export async function evaluateWithHybrid(
  encode: Encode,
  sets: EvalSets,
  alpha: number,
  options: LexicalOptions = {},
): Promise<HybridReport> {
  const { method = 'bm25', ...rest } = options;
  const report: HybridReport = { galleries: {}, baseline: {}, hybrid: {} };
  const labels = sets.queries.labels;
  const q = labels.length > 0 ? await embedTexts(encode, sets.queries.texts, 'query') : undefined;
  for (const g of sets.galleries) {
    const lexical = lexicalScores(sets.queries.texts, g.texts, method, rest);
    report.baseline[g.kind] = reid(lexical, labels, g.labels);
    if (!q || g.texts.length === 0) {
      report.galleries[g.kind] = reid(() => {}, labels, g.labels);
      report.hybrid[g.kind] = report.galleries[g.kind]!;
      continue;
    }
    const e = await embedTexts(encode, g.texts, g.kind);
    if (e.d !== q.d) throw new Error(`evaluate: ${g.kind} embeddings are ${e.d}-wide, queries ${q.d}-wide`);
    const dense = cosineScores(q.rows, e.rows, q.d);
    report.galleries[g.kind] = reid(dense, labels, g.labels);
    report.hybrid[g.kind] = reid(fusedScores(dense, lexical, g.texts.length, alpha), labels, g.labels);
  }
  return report;
}

export interface HybridFit {
  alpha: number;
  /** Mean mAP over the galleries at `alpha`. */
  meanMAP: number;
  /** Every weight tried, with its mean mAP. */
  grid: { alpha: number; meanMAP: number }[];
  /** Queries with a text in some gallery, and gallery sizes. */
  queries: number;
  galleries: Record<string, number>;
}

/** Normalised dense and lexical rows of the queries that have positives in a gallery (the only rows
 * `reid` asks for), computed once; the result gives the fused rows at any weight from them. */
function fusionAtAnyWeight(
  dense: ScoreRows,
  lexical: ScoreRows,
  queryLabels: readonly string[],
  galleryLabels: readonly string[],
): (alpha: number) => ScoreRows {
  const present = new Set(galleryLabels);
  const g = galleryLabels.length;
  const rowOf = new Map<number, number>();
  queryLabels.forEach((l, q) => present.has(l) && rowOf.set(q, rowOf.size));
  const d = new Float32Array(rowOf.size * g);
  const l = new Float32Array(rowOf.size * g);
  const tmp = new Float64Array(g);
  for (const [q, r] of rowOf) {
    dense(q, tmp);
    minMaxInPlace(tmp);
    d.set(tmp, r * g);
    lexical(q, tmp);
    minMaxInPlace(tmp);
    l.set(tmp, r * g);
  }
  return (alpha) => (q, out) => {
    const base = rowOf.get(q)! * g;
    for (let i = 0; i < g; i++) out[i] = alpha * d[base + i]! + (1 - alpha) * l[base + i]!;
  };
}

/**
 * The weight of the encoder that maximises the mean mAP over `sets`' galleries (the prompt-wrapped
 * synonyms left out: they would count the synonyms twice). Ties go to the weight nearest an even mix.
 */
export async function fitHybridWeight(
  encode: Encode,
  sets: EvalSets,
  grid: readonly number[] = WEIGHT_GRID,
): Promise<HybridFit> {
  const galleries = sets.galleries.filter((g) => g.kind !== PROMPT_KIND && g.texts.length > 0);
  const labels = sets.queries.labels;
  if (labels.length === 0 || galleries.length === 0)
    throw new Error('fitHybridWeight: no queries or no gallery to fit the hybrid weight on');
  const q = await embedTexts(encode, sets.queries.texts, 'query');
  const rows: { fused: (alpha: number) => ScoreRows; labels: string[] }[] = [];
  for (const g of galleries) {
    const e = await embedTexts(encode, g.texts, g.kind);
    const dense = cosineScores(q.rows, e.rows, q.d);
    const lexical = lexicalScores(sets.queries.texts, g.texts);
    rows.push({ fused: fusionAtAnyWeight(dense, lexical, labels, g.labels), labels: g.labels });
  }
  const tried = grid.map((alpha) => {
    const maps = rows.map((r) => reid(r.fused(alpha), labels, r.labels).mAP);
    return { alpha, meanMAP: maps.reduce((s, x) => s + x, 0) / maps.length };
  });
  const best = tried.reduce((b, t) =>
    t.meanMAP > b.meanMAP + 1e-12 ||
    (Math.abs(t.meanMAP - b.meanMAP) <= 1e-12 && Math.abs(t.alpha - 0.5) < Math.abs(b.alpha - 0.5))
      ? t
      : b,
  );
  const present = new Set(galleries.flatMap((g) => g.labels));
  return {
    alpha: best.alpha,
    meanMAP: best.meanMAP,
    grid: tried,
    queries: labels.filter((l) => present.has(l)).length,
    galleries: Object.fromEntries(galleries.map((g) => [g.kind, g.texts.length])),
  };
}

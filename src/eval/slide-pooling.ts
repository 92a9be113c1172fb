// Top-K pooling of patch × class scores into slide scores, MI-Zero's protocol (Lu et al., CVPR
// 2023): per class the sum or mean of that class's K highest patch scores (the patch scores are
// cosines from class-embeddings.ts); the slide is predicted as the class with the highest pooled
// score.
//
// Two conventions, both MI-Zero's: each class picks its own top K patches (the K patches that look
// most like class A need not be those that look most like class B), and with a slide of fewer than
// K patches every patch is used (torch.topk would fail; MI-Zero's caller clamps K to N). With the same
// K for every class, sum and mean rank the classes identically; they differ only in the scores shown.

export type Pooling = 'sum' | 'mean';

/** The K values of the MI-Zero / KEP tables. */
export const DEFAULT_TOP_K: readonly number[] = [1, 5, 10, 50];

/** One column (a class's score for every patch) sorted from highest to lowest. */
function sortedColumn(scores: Float32Array, patches: number, classes: number, k: number): Float32Array {
  const col = new Float32Array(patches);
  for (let p = 0; p < patches; p++) col[p] = scores[p * classes + k]!;
  col.sort();
  return col.reverse();
}

/**
 * Pooled slide score per class for each K: `[ks.length][classes]`. K larger than the number of
 * patches uses all of them. A slide without patches has no score (an error, not zeros).
 */
export function topKPool(
  scores: Float32Array,
  patches: number,
  classes: number,
  ks: readonly number[],
  pooling: Pooling,
): Float64Array[] {
  if (scores.length !== patches * classes)
    throw new RangeError(`${scores.length} scores is not ${patches} patches × ${classes} classes`);
  if (patches === 0) throw new RangeError('top-K pooling needs at least one patch');
  for (const k of ks)
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`K must be a positive integer, got ${k}`);
  const pooled = ks.map(() => new Float64Array(classes));
  for (let c = 0; c < classes; c++) {
    const col = sortedColumn(scores, patches, classes, c);
    // Prefix sums over the sorted column serve every K in one pass.
    const maxK = Math.min(patches, Math.max(...ks));
    const prefix = new Float64Array(maxK + 1);
    for (let i = 0; i < maxK; i++) prefix[i + 1] = prefix[i]! + col[i]!;
    ks.forEach((k, i) => {
      const used = Math.min(k, patches);
      pooled[i]![c] = pooling === 'sum' ? prefix[used]! : prefix[used]! / used;
    });
  }
  return pooled;
}

/** Index of the largest value; ties go to the first (the class listed first in the prompt set). */
export function argmax(values: ArrayLike<number>): number {
  if (values.length === 0) throw new RangeError('argmax of nothing');
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

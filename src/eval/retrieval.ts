// Cross-modal retrieval over 1:1 image–caption pairs (ARCH-style): image i's caption is text i.
// Image→text Recall@K is the share of images whose caption ranks in the top K of all captions by
// cosine similarity; text→image the same the other way.
//
// Ties count against the query: a caption scoring exactly as high as the right one ranks ahead of
// it. A degenerate model (every embedding equal) then scores R@K = 0 instead of 1, and duplicate
// captions in a set cost recall rather than invent it. (torch.topk, which CLIP_benchmark uses,
// leaves tie order unspecified.)
//
// The similarity matrix is never held: rows are computed one at a time (O(n·d) memory), so sets of
// tens of thousands of pairs fit; the time is O(n²·d).
export const DEFAULT_KS = [1, 10, 50] as const;

export type RecallAtK = Record<string, number>;

export interface RetrievalResult {
  n_pairs: number;
  /** "R@1", "R@10", "R@50" → share of queries. */
  image_to_text: RecallAtK;
  text_to_image: RecallAtK;
  /** Median 1-based rank of the right item. */
  median_rank: { image_to_text: number; text_to_image: number };
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += a[ao + j]! * b[bo + j]!;
  return s;
}

/** 1-based ranks from a similarity given row by row (row = image, column = text). */
function ranksByRows(
  n: number,
  row: (image: number, out: Float32Array) => void,
  pairScore: (pair: number) => number,
): { i2t: Int32Array; t2i: Int32Array } {
  // Float32 like the rows, and computed the same way, so a score meets itself bit for bit.
  const diag = new Float32Array(n);
  for (let j = 0; j < n; j++) diag[j] = pairScore(j);
  const buf = new Float32Array(n);
  const i2t = new Int32Array(n);
  const t2i = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    row(j, buf);
    const own = diag[j]!;
    let r = 0;
    for (let i = 0; i < n; i++) {
      const s = buf[i]!;
      if (s >= own) r++;
      if (s >= diag[i]!) t2i[i]!++;
    }
    i2t[j] = r;
  }
  return { i2t, t2i };
}

function recall(ranks: Int32Array, ks: readonly number[]): RecallAtK {
  return Object.fromEntries(
    ks.map((k) => [`R@${k}`, ranks.reduce((a, r) => a + (r <= k ? 1 : 0), 0) / ranks.length]),
  );
}

function median(ranks: Int32Array): number {
  const s = [...ranks].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function result(
  n: number,
  ranks: { i2t: Int32Array; t2i: Int32Array },
  ks: readonly number[],
): RetrievalResult {
  return {
    n_pairs: n,
    image_to_text: recall(ranks.i2t, ks),
    text_to_image: recall(ranks.t2i, ks),
    median_rank: { image_to_text: median(ranks.i2t), text_to_image: median(ranks.t2i) },
  };
}

/** Recall@K from unit-length features of n images and their n captions ([n, dim] each, pair i = row i). */
export function crossModalRetrieval(
  images: Float32Array,
  texts: Float32Array,
  dim: number,
  ks: readonly number[] = DEFAULT_KS,
): RetrievalResult {
  if (images.length !== texts.length || images.length % dim !== 0)
    throw new RangeError(`${images.length} image and ${texts.length} text values are not 1:1 rows of ${dim}`);
  const n = images.length / dim;
  if (n === 0) throw new RangeError('no pairs');
  const ranks = ranksByRows(
    n,
    (j, out) => {
      for (let i = 0; i < n; i++) out[i] = dot(images, j * dim, texts, i * dim, dim);
    },
    (j) => dot(images, j * dim, texts, j * dim, dim),
  );
  return result(n, ranks, ks);
}

/** The same from a given similarity matrix (row = image, column = text), for tests and other scorers. */
export function retrievalFromSimilarity(
  similarity: ArrayLike<number>,
  n: number,
  ks: readonly number[] = DEFAULT_KS,
): RetrievalResult {
  if (similarity.length !== n * n) throw new RangeError(`a ${n}×${n} similarity needs ${n * n} values`);
  if (n === 0) throw new RangeError('no pairs');
  const ranks = ranksByRows(
    n,
    (j, out) => {
      for (let i = 0; i < n; i++) out[i] = similarity[j * n + i]!;
    },
    (j) => similarity[j * n + j]!,
  );
  return result(n, ranks, ks);
}

// Class embeddings from prompt sets, and the cosine scores that zero-shot classification (patches
// here, slides in src/wsi) is the argmax of.
//   - A class's embedding is the mean of its captions' L2-normalised embeddings, re-normalised.
//     With one caption per class (the published prompt files: one phrase, one template) that is
//     just the caption's normalised embedding — the paper's protocol; with lists of phrases or
//     templates it is the template ensemble (CLIP's, MI-Zero's).
//   - Texts go through a cache keyed by the string: prompt sets share most of their captions, and a
//     hundred sets of one data set need only their distinct captions embedded once.
import type { VisionLanguageModel } from '../embed/types.ts';
import { type PromptSet, classCaptions } from '../data/prompt-sets.ts';

export type TextEmbedder = Pick<VisionLanguageModel, 'embedTexts' | 'embedDim'>;

/** Scales each row of a [rows, dim] matrix to unit length in place (all-zero rows stay zero). */
export function normaliseRows(m: Float32Array, dim: number): Float32Array {
  if (m.length % dim !== 0) throw new RangeError(`${m.length} values are not rows of ${dim}`);
  for (let o = 0; o < m.length; o += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += m[o + j]! * m[o + j]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) m[o + j]! *= inv;
  }
  return m;
}

export class TextEmbeddingCache {
  private readonly cache = new Map<string, Float32Array>();
  /** Texts sent to the model so far. */
  embedded = 0;
  /** Texts answered from the cache. */
  reused = 0;

  constructor(
    private readonly model: TextEmbedder,
    private readonly batchSize = 64,
  ) {}

  get dim(): number {
    return this.model.embedDim;
  }

  /** [texts.length, dim], each row unit length. */
  async embed(texts: readonly string[]): Promise<Float32Array> {
    const dim = this.model.embedDim;
    const missing = [...new Set(texts.filter((t) => !this.cache.has(t)))];
    for (let s = 0; s < missing.length; s += this.batchSize) {
      const chunk = missing.slice(s, s + this.batchSize);
      const out = await this.model.embedTexts(chunk);
      if (out.length !== chunk.length * dim)
        throw new Error(
          `the model returned ${out.length} values for ${chunk.length} texts of dimension ${dim}`,
        );
      normaliseRows(out, dim);
      chunk.forEach((t, i) => this.cache.set(t, out.slice(i * dim, (i + 1) * dim)));
    }
    this.embedded += missing.length;
    this.reused += texts.length - missing.length;
    const result = new Float32Array(texts.length * dim);
    texts.forEach((t, i) => result.set(this.cache.get(t)!, i * dim));
    return result;
  }
}

export interface ClassEmbeddings {
  /** In the prompt set's order. */
  labels: string[];
  dim: number;
  /** [labels.length, dim], unit rows. */
  matrix: Float32Array;
  /** The captions behind each class. */
  captions: string[][];
}

/** One embedding per class of a prompt set (see the file comment for single captions vs ensembles). */
export async function classEmbeddings(set: PromptSet, texts: TextEmbeddingCache): Promise<ClassEmbeddings> {
  const dim = texts.dim;
  const captions = set.classes.map((c) => classCaptions(set, c));
  const all = await texts.embed(captions.flat());
  const matrix = new Float32Array(set.classes.length * dim);
  let row = 0;
  captions.forEach((caps, c) => {
    for (let k = 0; k < caps.length; k++, row++)
      for (let j = 0; j < dim; j++) matrix[c * dim + j]! += all[row * dim + j]!;
  });
  return { labels: set.classes.map((c) => c.label), dim, matrix: normaliseRows(matrix, dim), captions };
}

/** Cosine scores [n, classes] of unit-length features against unit-length class embeddings. */
export function cosineScores(features: Float32Array, classes: ClassEmbeddings): Float32Array {
  const { dim, matrix } = classes;
  const c = classes.labels.length;
  if (features.length % dim !== 0) throw new RangeError(`features are not rows of ${dim}`);
  const n = features.length / dim;
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    const fo = i * dim;
    for (let k = 0; k < c; k++) {
      const ko = k * dim;
      let s = 0;
      for (let j = 0; j < dim; j++) s += features[fo + j]! * matrix[ko + j]!;
      out[i * c + k] = s;
    }
  }
  return out;
}

/** Index of each row's largest value (the first, on ties: numpy's argmax). */
export function argmaxRows(scores: Float32Array, columns: number): Int32Array {
  const n = scores.length / columns;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < columns; k++) if (scores[i * columns + k]! > scores[i * columns + best]!) best = k;
    out[i] = best;
  }
  return out;
}

/** Row-wise softmax of scale × scores (class probabilities from cosine scores and the learned scale). */
export function softmaxRows(scores: Float32Array, columns: number, scale: number): Float32Array {
  const out = new Float32Array(scores.length);
  for (let o = 0; o < scores.length; o += columns) {
    let max = -Infinity;
    for (let k = 0; k < columns; k++) max = Math.max(max, scale * scores[o + k]!);
    let sum = 0;
    for (let k = 0; k < columns; k++) sum += out[o + k] = Math.exp(scale * scores[o + k]! - max);
    for (let k = 0; k < columns; k++) out[o + k]! /= sum;
  }
  return out;
}

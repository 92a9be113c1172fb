// Zero-shot patch classification, KEP's protocol (docs/zero-shot.md): images are embedded once;
// for every prompt set, each class gets its caption embedding (or template ensemble), each image
// the class of highest cosine, and the set a weighted F1 and a balanced accuracy; the figures
// reported are the median and quartiles over the sets.
//   - A class a set names but no image has (SICAP's "Tumor") stays a candidate: a distractor.
//   - An image label that a set does not name cannot be predicted right at all, so it is an error
//     naming the label and the set, not a silently lower score.
import type { PromptSet } from '../data/prompt-sets.ts';
import { TextEmbeddingCache, argmaxRows, classEmbeddings, cosineScores } from './class-embeddings.ts';
import {
  type Quartiles,
  accuracyFromConfusion,
  balancedAccuracyFromConfusion,
  quartiles,
  weightedF1FromConfusion,
} from './classification-metrics.ts';

export class ZeroShotError extends Error {
  override name = 'ZeroShotError';
}

export interface ZeroShotSetResult {
  id: string;
  wF1: number;
  bacc: number;
  accuracy: number;
  /** The set's classes, in its order (rows and columns of `confusion`). */
  labels: string[];
  /** confusion[true][predicted], over the set's classes. */
  confusion: number[][];
  /** The caption(s) of each class. */
  captions: string[][];
}

export interface ZeroShotResult {
  n_sets: number;
  n_images: number;
  wF1: Quartiles;
  bacc: Quartiles;
  accuracy: Quartiles;
  /** Classes of the images, sorted. */
  classes: string[];
  /** Classes some set offers that no image has. */
  distractors: string[];
  sets: ZeroShotSetResult[];
  /** The set whose weighted F1 is the median (the lower middle one for an even number of sets). */
  median_set: string;
}

export interface ZeroShotOptions {
  /** The prompt file, for messages. */
  source?: string;
  /** Called after each set (progress). */
  onSet?: (done: number, total: number) => void;
}

/** Every image label must be a class of every set; throws ZeroShotError naming the first that is not. */
export function checkPromptSets(
  imageLabels: readonly string[],
  sets: readonly PromptSet[],
  source?: string,
): void {
  const counts = new Map<string, number>();
  for (const l of imageLabels) counts.set(l, (counts.get(l) ?? 0) + 1);
  for (const set of sets) {
    const offered = new Set(set.classes.map((c) => c.label));
    for (const [label, n] of counts)
      if (!offered.has(label))
        throw new ZeroShotError(
          `label "${label}" (${n} image${n === 1 ? '' : 's'}) is not a class of prompt set "${set.id}"${source ? ` in ${source}` : ''} (its classes: ${[...offered].join(', ')})`,
        );
  }
}

export async function zeroShotClassify(
  features: Float32Array,
  dim: number,
  imageLabels: readonly string[],
  sets: readonly PromptSet[],
  texts: TextEmbeddingCache,
  opts: ZeroShotOptions = {},
): Promise<ZeroShotResult> {
  const n = imageLabels.length;
  if (features.length !== n * dim)
    throw new RangeError(`${features.length} feature values for ${n} images of dimension ${dim}`);
  if (n === 0) throw new ZeroShotError('no images to classify');
  if (sets.length === 0) throw new ZeroShotError('no prompt sets');
  checkPromptSets(imageLabels, sets, opts.source);
  const results: ZeroShotSetResult[] = [];
  for (const set of sets) {
    const classes = await classEmbeddings(set, texts);
    const index = new Map(classes.labels.map((l, i) => [l, i]));
    const predicted = argmaxRows(cosineScores(features, classes), classes.labels.length);
    const confusion = classes.labels.map(() => new Array<number>(classes.labels.length).fill(0));
    imageLabels.forEach((l, i) => confusion[index.get(l)!]![predicted[i]!]!++);
    results.push({
      id: set.id,
      wF1: weightedF1FromConfusion(confusion),
      bacc: balancedAccuracyFromConfusion(confusion),
      accuracy: accuracyFromConfusion(confusion),
      labels: classes.labels,
      confusion,
      captions: classes.captions,
    });
    opts.onSet?.(results.length, sets.length);
  }
  const classesOfImages = [...new Set(imageLabels)].sort();
  const seen = new Set(imageLabels);
  const distractors = [...new Set(sets.flatMap((s) => s.classes.map((c) => c.label)))].filter(
    (l) => !seen.has(l),
  );
  const byF1 = results.map((r, i) => [r.wF1, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return {
    n_sets: results.length,
    n_images: n,
    wF1: quartiles(results.map((r) => r.wF1)),
    bacc: quartiles(results.map((r) => r.bacc)),
    accuracy: quartiles(results.map((r) => r.accuracy)),
    classes: classesOfImages,
    distractors,
    sets: results,
    median_set: results[byF1[Math.floor((byF1.length - 1) / 2)]![1]]!.id,
  };
}

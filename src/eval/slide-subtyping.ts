// Zero-shot whole-slide subtyping over many slides and prompt sets (MI-Zero protocol, KEP's slide
// table): each slide's patch features are scored against every prompt set's class embeddings and
// top-K pooled (slide-pooling.ts); per K, each prompt set gives one prediction per slide, hence one
// balanced accuracy per set, reported as median and quartiles over the sets.
import { balancedAccuracy, quartiles, type Quartiles } from './classification-metrics.ts';
import { type ClassEmbeddings, cosineScores, normaliseRows } from './class-embeddings.ts';
import { argmax, topKPool, type Pooling } from './slide-pooling.ts';

/** One prompt set's class embeddings (class-embeddings.ts), named by the set's id. */
export type ClassSet = ClassEmbeddings & { id: string };

export interface SlideSetScores {
  /** pooled[k][class]: the slide's pooled score per class for each K. */
  pooled: Float64Array[];
  /** predicted label for each K. */
  predicted: string[];
}

/**
 * Scores one slide against every set; `features` [patches, dim] may be unnormalised (CLAM files),
 * the class embeddings are unit rows as classEmbeddings() makes them.
 */
export function scoreSlide(
  features: Float32Array,
  patches: number,
  dim: number,
  sets: readonly ClassSet[],
  ks: readonly number[],
  pooling: Pooling,
): SlideSetScores[] {
  if (features.length !== patches * dim)
    throw new RangeError(`${features.length} values is not ${patches}×${dim}`);
  const unit = normaliseRows(features.slice(), dim);
  return sets.map((set) => {
    const c = set.labels.length;
    if (set.dim !== dim || set.matrix.length !== c * dim)
      throw new RangeError(`prompt set ${set.id}: ${set.matrix.length} values is not ${c} classes × ${dim}`);
    const pooled = topKPool(cosineScores(unit, set), patches, c, ks, pooling);
    return { pooled, predicted: pooled.map((p) => set.labels[argmax(p)]!) };
  });
}

export interface LabelledSlideScores {
  slide: string;
  label: string;
  /** One entry per set, in the sets' order. */
  sets: Pick<SlideSetScores, 'predicted'>[];
}

export interface SubtypingSummary {
  ks: number[];
  pooling: Pooling;
  nSets: number;
  nSlides: number;
  /** Per K: balanced accuracy over the slides for every set, and its median and quartiles. */
  balancedAccuracy: { k: number; perSet: number[]; summary: Quartiles }[];
  /** Per slide and K: the label most sets predict, and the share of sets that predict the truth. */
  slides: { slide: string; label: string; byK: { k: number; majority: string; correctShare: number }[] }[];
}

/** The most frequent prediction; ties go to the label predicted first in set order. */
function majority(predictions: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const p of predictions) counts.set(p, (counts.get(p) ?? 0) + 1);
  let best = predictions[0]!;
  for (const [label, n] of counts) if (n > counts.get(best)!) best = label;
  return best;
}

export function summariseSubtyping(
  slides: readonly LabelledSlideScores[],
  sets: readonly Pick<ClassSet, 'id' | 'labels'>[],
  ks: readonly number[],
  pooling: Pooling,
): SubtypingSummary {
  if (slides.length === 0) throw new RangeError('no labelled slides to evaluate');
  for (const set of sets)
    for (const s of slides)
      if (!set.labels.includes(s.label))
        throw new Error(
          `slide ${s.slide} is labelled "${s.label}", which prompt set ${set.id} does not name (its classes: ${set.labels.join(', ')})`,
        );
  const bacc = ks.map((k, ki) => {
    const perSet = sets.map((set, si) => {
      const index = new Map(set.labels.map((l, i) => [l, i]));
      const yTrue = slides.map((s) => index.get(s.label)!);
      const yPred = slides.map((s) => index.get(s.sets[si]!.predicted[ki]!)!);
      return balancedAccuracy(yTrue, yPred, set.labels.length);
    });
    return { k, perSet, summary: quartiles(perSet) };
  });
  const rows = slides.map((s) => ({
    slide: s.slide,
    label: s.label,
    byK: ks.map((k, ki) => {
      const predictions = s.sets.map((p) => p.predicted[ki]!);
      return {
        k,
        majority: majority(predictions),
        correctShare: predictions.filter((p) => p === s.label).length / predictions.length,
      };
    }),
  }));
  return {
    ks: [...ks],
    pooling,
    nSets: sets.length,
    nSlides: slides.length,
    balancedAccuracy: bacc,
    slides: rows,
  };
}

/** The report as Markdown: the metric table, then the per-slide table. */
export function subtypingMarkdown(summary: SubtypingSummary): string {
  const f = (v: number): string => v.toFixed(3);
  const lines = [
    `Zero-shot slide subtyping: ${summary.nSlides} slides, ${summary.nSets} prompt set${summary.nSets === 1 ? '' : 's'}, top-K ${summary.pooling} pooling.`,
    '',
    '| K | balanced accuracy, median | q1 | q3 |',
    '| --- | --- | --- | --- |',
    ...summary.balancedAccuracy.map(
      (b) => `| ${b.k} | ${f(b.summary.median)} | ${f(b.summary.q1)} | ${f(b.summary.q3)} |`,
    ),
    '',
    `| slide | label | ${summary.ks.map((k) => `K=${k}: majority (sets right)`).join(' | ')} |`,
    `| --- | --- | ${summary.ks.map(() => '---').join(' | ')} |`,
    ...summary.slides.map(
      (s) =>
        `| ${s.slide} | ${s.label} | ${s.byK.map((b) => `${b.majority} (${Math.round(b.correctShare * 100)}%)`).join(' | ')} |`,
    ),
  ];
  return lines.join('\n') + '\n';
}

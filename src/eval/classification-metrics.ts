// Classification metrics with scikit-learn's definitions (the figures papers report are sklearn's),
// and quantiles with numpy's default (linear) interpolation. Written here because they are a few
// lines each and their exact edge-case conventions are the point:
//   - labels are class indices 0..nClasses-1; a class that is predicted but never true (a prompt
//     set's distractor, such as SICAP's "Tumor") has support 0, so it lowers the precision of
//     nothing and weighs nothing in the weighted F1, and is left out of balanced accuracy;
//   - precision of a class never predicted is 0 (sklearn's zero_division default, without its
//     warning), and so is its F1.
export type Labels = ArrayLike<number>;

function checkPair(yTrue: Labels, yPred: Labels, nClasses: number): void {
  if (yTrue.length !== yPred.length)
    throw new RangeError(`y_true has ${yTrue.length} labels, y_pred ${yPred.length}`);
  if (yTrue.length === 0) throw new RangeError('no samples');
  for (const y of [yTrue, yPred])
    for (let i = 0; i < y.length; i++) {
      const v = y[i]!;
      if (!Number.isInteger(v) || v < 0 || v >= nClasses)
        throw new RangeError(`label ${v} at ${i} is not a class index 0..${nClasses - 1}`);
    }
}

function classCount(yTrue: Labels, yPred: Labels, nClasses?: number): number {
  if (nClasses !== undefined) return nClasses;
  let max = -1;
  for (const y of [yTrue, yPred]) for (let i = 0; i < y.length; i++) max = Math.max(max, y[i]!);
  return max + 1;
}

/** counts[t][p]: samples of true class t predicted as p (sklearn's orientation). */
export function confusionMatrix(yTrue: Labels, yPred: Labels, nClasses?: number): number[][] {
  const n = classCount(yTrue, yPred, nClasses);
  checkPair(yTrue, yPred, n);
  const m = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < yTrue.length; i++) m[yTrue[i]!]![yPred[i]!]!++;
  return m;
}

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  /** True samples of the class. */
  support: number;
  /** Samples predicted as the class. */
  predicted: number;
}

export function classScores(confusion: readonly (readonly number[])[]): ClassScores[] {
  return confusion.map((row, c) => {
    const tp = row[c]!;
    const support = row.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, r) => a + r[c]!, 0);
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    // 2tp / (2tp + fp + fn): the same as 2PR/(P+R), and 0 rather than 0/0 when tp = 0.
    const f1 = tp > 0 ? (2 * tp) / (support + predicted) : 0;
    return { precision, recall, f1, support, predicted };
  });
}

/** sklearn f1_score(average='weighted'): per-class F1 weighted by true support. */
export function weightedF1(yTrue: Labels, yPred: Labels, nClasses?: number): number {
  return weightedF1FromConfusion(confusionMatrix(yTrue, yPred, nClasses));
}

export function weightedF1FromConfusion(confusion: readonly (readonly number[])[]): number {
  const scores = classScores(confusion);
  const total = scores.reduce((a, s) => a + s.support, 0);
  if (total === 0) throw new RangeError('no samples');
  return scores.reduce((a, s) => a + s.f1 * s.support, 0) / total;
}

/** sklearn balanced_accuracy_score: mean recall over the classes present in y_true. */
export function balancedAccuracy(yTrue: Labels, yPred: Labels, nClasses?: number): number {
  return balancedAccuracyFromConfusion(confusionMatrix(yTrue, yPred, nClasses));
}

export function balancedAccuracyFromConfusion(confusion: readonly (readonly number[])[]): number {
  const present = classScores(confusion).filter((s) => s.support > 0);
  if (present.length === 0) throw new RangeError('no samples');
  return present.reduce((a, s) => a + s.recall, 0) / present.length;
}

export function accuracyFromConfusion(confusion: readonly (readonly number[])[]): number {
  let right = 0;
  let total = 0;
  confusion.forEach((row, t) => {
    right += row[t]!;
    total += row.reduce((a, b) => a + b, 0);
  });
  if (total === 0) throw new RangeError('no samples');
  return right / total;
}

/** numpy.quantile(values, q) with the default method 'linear' (Hyndman & Fan type 7). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError('quantile of no values');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile ${q} is not in [0, 1]`);
  if (values.some((v) => Number.isNaN(v))) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const [a, b, t] = [sorted[lo]!, sorted[hi]!, h - lo];
  // numpy's _lerp: from the nearer end, so that t = 1 gives b exactly.
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

export interface Quartiles {
  median: number;
  q1: number;
  q3: number;
}

/** Median and first/third quartiles, as papers report a metric over prompt sets. */
export function quartiles(values: readonly number[]): Quartiles {
  return { median: quantile(values, 0.5), q1: quantile(values, 0.25), q3: quantile(values, 0.75) };
}

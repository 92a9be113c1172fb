import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  accuracyFromConfusion,
  balancedAccuracy,
  classScores,
  confusionMatrix,
  quantile,
  quartiles,
  weightedF1,
} from './classification-metrics.ts';

const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('three classes by hand: confusion, per-class scores, weighted F1, balanced accuracy', () => {
  const yTrue = [0, 0, 0, 1, 1, 2];
  const yPred = [0, 0, 1, 1, 2, 2];
  const cm = confusionMatrix(yTrue, yPred);
  assert.deepEqual(cm, [
    [2, 1, 0],
    [0, 1, 1],
    [0, 0, 1],
  ]);
  const s = classScores(cm);
  // class 0: P 2/2, R 2/3, F1 0.8; class 1: P 1/2, R 1/2, F1 0.5; class 2: P 1/2, R 1, F1 2/3.
  close(s[0]!.f1, 0.8);
  close(s[1]!.f1, 0.5);
  close(s[2]!.f1, 2 / 3);
  assert.deepEqual(
    s.map((c) => [c.support, c.predicted]),
    [
      [3, 2],
      [2, 2],
      [1, 2],
    ],
  );
  close(weightedF1(yTrue, yPred), (3 * 0.8 + 2 * 0.5 + 1 * (2 / 3)) / 6);
  close(balancedAccuracy(yTrue, yPred), (2 / 3 + 1 / 2 + 1) / 3);
  close(accuracyFromConfusion(cm), 4 / 6);
});

test('a distractor class (predicted, never true) weighs nothing; a class absent from both is ignored', () => {
  // Classes 0..3: 2 never occurs, 3 is only predicted.
  const yTrue = [0, 0, 1, 1];
  const yPred = [0, 3, 1, 3];
  const s = classScores(confusionMatrix(yTrue, yPred, 4));
  assert.deepEqual(s[3], { precision: 0, recall: 0, f1: 0, support: 0, predicted: 2 });
  assert.deepEqual(s[2], { precision: 0, recall: 0, f1: 0, support: 0, predicted: 0 });
  // Classes 0 and 1: P 1, R 1/2, F1 2/3 each.
  close(weightedF1(yTrue, yPred, 4), 2 / 3);
  close(balancedAccuracy(yTrue, yPred, 4), 0.5);
});

test('a class never predicted has precision 0 and F1 0; perfect and all-wrong predictions', () => {
  close(weightedF1([0, 1, 1, 1], [1, 1, 1, 1]), (1 * 0 + 3 * (6 / 7)) / 4);
  close(balancedAccuracy([0, 1, 1, 1], [1, 1, 1, 1]), 0.5);
  close(weightedF1([0, 1, 2], [0, 1, 2]), 1);
  close(balancedAccuracy([0, 1, 2], [0, 1, 2]), 1);
  close(weightedF1([0, 1], [1, 0]), 0);
  close(balancedAccuracy([0, 1], [1, 0]), 0);
});

test('bad inputs are refused', () => {
  assert.throws(() => weightedF1([0, 1], [0]), /y_true has 2 labels, y_pred 1/);
  assert.throws(() => weightedF1([], []), /no samples/);
  assert.throws(() => confusionMatrix([0, 5], [0, 1], 3), /label 5 at 1 is not a class index 0\.\.2/);
  assert.throws(() => confusionMatrix([0, 1.5], [0, 1], 3), /label 1\.5/);
});

test("quantiles follow numpy's default linear interpolation", () => {
  // np.quantile([1, 2, 3, 4], [0.25, 0.5, 0.75]) = [1.75, 2.5, 3.25]
  assert.deepEqual(quartiles([4, 1, 3, 2]), { median: 2.5, q1: 1.75, q3: 3.25 });
  // np.quantile([1, 2, 3], ...) = [1.5, 2, 2.5]
  assert.deepEqual(quartiles([3, 1, 2]), { median: 2, q1: 1.5, q3: 2.5 });
  assert.deepEqual(quartiles([0.7]), { median: 0.7, q1: 0.7, q3: 0.7 });
  // np.quantile([0.1, 0.5, 0.2, 0.9, 0.4], 0.3) = 0.24 (sorted, h = 4 × 0.3 = 1.2: 0.2 + 0.2 × 0.2)
  close(quantile([0.1, 0.5, 0.2, 0.9, 0.4], 0.3), 0.24, 1e-15);
  assert.equal(quantile([1, 2], 0), 1);
  assert.equal(quantile([1, 2], 1), 2);
  assert.ok(Number.isNaN(quantile([1, NaN], 0.5)));
  assert.throws(() => quantile([], 0.5), /quantile of no values/);
  assert.throws(() => quantile([1], 1.5), /not in \[0, 1\]/);
});

interface Fixture {
  classification: {
    n_classes: number;
    y_true: number[];
    y_pred: number[];
    weighted_f1: number;
    balanced_accuracy: number;
  }[];
  quantiles: { values: number[]; q: number[]; quantiles: number[] }[];
}
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/classification-metrics.json', import.meta.url), 'utf8'),
) as Fixture;

test('scikit-learn agrees on 40 random cases with distractors, absent classes and single samples', () => {
  for (const c of fixture.classification) {
    close(weightedF1(c.y_true, c.y_pred, c.n_classes), c.weighted_f1, 1e-12);
    close(balancedAccuracy(c.y_true, c.y_pred, c.n_classes), c.balanced_accuracy, 1e-12);
  }
});

test('numpy agrees on the quantiles of 20 random lists', () => {
  for (const c of fixture.quantiles)
    c.q.forEach((q, k) => close(quantile(c.values, q), c.quantiles[k]!, 1e-15));
});

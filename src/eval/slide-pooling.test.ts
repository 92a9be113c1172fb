import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argmax, topKPool } from './slide-pooling.ts';

function close(actual: ArrayLike<number>, expected: readonly number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++)
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
}

test('top-K pooling: each class ranks its own patches; sum and mean; K beyond N uses all', () => {
  // 4 patches × 2 classes. Class 0 column: 0.9, 0.1, 0.5, 0.3; class 1 column: 0.2, 0.8, 0.6, 0.7.
  const scores = Float32Array.from([0.9, 0.2, 0.1, 0.8, 0.5, 0.6, 0.3, 0.7]);
  const sum = topKPool(scores, 4, 2, [1, 2, 3, 50], 'sum');
  close(sum[0]!, [0.9, 0.8]); // K=1: the best patch of each class
  close(sum[1]!, [0.9 + 0.5, 0.8 + 0.7]); // K=2: class 1 takes patches 1 and 3, class 0 patches 0 and 2
  close(sum[2]!, [0.9 + 0.5 + 0.3, 0.8 + 0.7 + 0.6]);
  close(sum[3]!, [1.8, 2.3]); // K=50 > 4 patches: all of them
  const mean = topKPool(scores, 4, 2, [1, 2, 3, 50], 'mean');
  close(mean[1]!, [1.4 / 2, 1.5 / 2]);
  close(mean[2]!, [1.7 / 3, 2.1 / 3]);
  close(mean[3]!, [1.8 / 4, 2.3 / 4]);
  // K=1 picks class 0 (0.9 > 0.8), K≥2 picks class 1: where top-K pooling changes the answer.
  assert.deepEqual(
    sum.map((s) => argmax(s)),
    [0, 1, 1, 1],
  );
  assert.deepEqual(
    mean.map((s) => argmax(s)),
    [0, 1, 1, 1],
  );
});

test('pooling rejects what has no answer', () => {
  assert.throws(() => topKPool(new Float32Array(0), 0, 2, [1], 'sum'), /at least one patch/);
  assert.throws(() => topKPool(new Float32Array(4), 2, 2, [0], 'sum'), /positive integer, got 0/);
  assert.throws(
    () => topKPool(new Float32Array(3), 2, 2, [1], 'sum'),
    /3 scores is not 2 patches × 2 classes/,
  );
  assert.throws(() => argmax([]), /argmax of nothing/);
  assert.equal(argmax([0.5, 0.7, 0.7]), 1);
});

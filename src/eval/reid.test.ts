import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  averagePrecision,
  cosineScores,
  normaliseRows,
  positiveRanks,
  reid,
  type ScoreRows,
} from './reid.ts';

const fromMatrix =
  (rows: number[][]): ScoreRows =>
  (q, out) =>
    rows[q]!.forEach((s, g) => (out[g] = s));

const close = (actual: number, expected: number, eps = 1e-12): void =>
  assert.ok(Math.abs(actual - expected) <= eps, `${actual} ≠ ${expected}`);

test('CMC and mAP of a hand-computed toy: two positives, a late hit, and a query without positives', () => {
  const gallery = ['A', 'B', 'A', 'C'];
  const m = reid(
    fromMatrix([
      // A: order 0(A) 1(B) 3(C) 2(A) → positives at ranks 1 and 4, AP = (1/1 + 2/4)/2 = 0.75
      [0.9, 0.8, 0.1, 0.5],
      // B: order 3(C) 0(A) 2(A) 1(B) → rank 4, AP = 1/4
      [0.9, 0.2, 0.3, 0.95],
      // D: no D in the gallery, so not evaluated (its scores would make a hit otherwise)
      [1, 1, 1, 1],
    ]),
    ['A', 'B', 'D'],
    gallery,
  );
  assert.deepEqual(m, { rank1: 0.5, rank2: 0.5, rank3: 0.5, rank4: 1, rank5: 1, mAP: 0.5, n: 2 });
});

test('ties rank every negative ahead of the positives, and positives among themselves by index', () => {
  const row = new Float64Array(4);
  const pos = [0, 2]; // gallery labels A B A C, query A
  // All scores equal: both negatives come first → ranks 3, 4.
  row.set([0, 0, 0, 0]);
  assert.deepEqual(positiveRanks(row, pos), [3, 4]);
  close(averagePrecision([3, 4]), (1 / 3 + 2 / 4) / 2);
  // A positive tied with a negative at the top loses the tie → ranks 2, 3.
  row.set([0.5, 0.5, 0.1, 0]);
  assert.deepEqual(positiveRanks(row, pos), [2, 3]);
  close(averagePrecision([2, 3]), (1 / 2 + 2 / 3) / 2);
  // Positives tied with each other only → ranks 1, 2, AP 1.
  row.set([0.5, 0.1, 0.5, 0]);
  assert.deepEqual(positiveRanks(row, pos), [1, 2]);
  // Positive at a later index than tied negatives is not favoured by position either.
  row.set([0.1, 0.7, 0.7, 0.7]);
  assert.deepEqual(positiveRanks(row, pos), [3, 4]);
});

test('a scorer that gives every item the same score earns nothing from the gallery order', () => {
  const m = reid(fromMatrix([[0, 0, 0]]), ['A'], ['A', 'B', 'C']);
  assert.equal(m.rank1, 0);
  assert.equal(m.rank2, 0);
  assert.equal(m.rank3, 1);
  close(m.mAP, 1 / 3);
});

test('AP with several positives interleaved with negatives', () => {
  // Query A; ranking A B A B B A → positives at 1, 3, 6.
  const scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
  const m = reid(fromMatrix([scores]), ['A'], ['A', 'B', 'A', 'B', 'B', 'A']);
  close(m.mAP, (1 / 1 + 2 / 3 + 3 / 6) / 3);
  assert.equal(m.rank1, 1);
});

test('no query evaluated: zeros with n = 0', () => {
  assert.deepEqual(reid(fromMatrix([[1]]), ['X'], ['A']), {
    rank1: 0,
    rank2: 0,
    rank3: 0,
    rank4: 0,
    rank5: 0,
    mAP: 0,
    n: 0,
  });
});

test('a non-finite or missing score stops with the query and item', () => {
  assert.throws(() => reid(fromMatrix([[0.1, Number.NaN]]), ['A'], ['A', 'B']), /query 0: .*item 1 is NaN/);
  assert.throws(() => reid((_q, out) => (out[0] = 1), ['A'], ['A', 'B']), /item 1 is NaN/);
  assert.throws(() => reid(fromMatrix([[0.1, Infinity]]), ['A'], ['A', 'B']), /Infinity/);
});

test('cosine scores normalise un-normalised embeddings', () => {
  const q = new Float32Array([2, 0]);
  const g = new Float32Array([0, 3, 1, 1, 5, 0, 0, 0]);
  const row = new Float64Array(4);
  cosineScores(q, g, 2)(0, row);
  close(row[0]!, 0, 1e-7);
  close(row[1]!, Math.SQRT1_2, 1e-6);
  close(row[2]!, 1, 1e-6);
  assert.equal(row[3], 0); // a zero vector is at cosine 0, not NaN
  assert.deepEqual(
    [...normaliseRows(new Float32Array([3, 4]), 1, 2)],
    [0.6000000238418579, 0.800000011920929],
  );
  assert.throws(() => cosineScores(q, new Float32Array(3), 2), /width 2/);
});

test('reid over cosine scores: identical texts tie, and the tie goes against the query', () => {
  // The query's own vector appears twice in the gallery: once as the positive, once under label B.
  const q = new Float32Array([1, 1]);
  const g = new Float32Array([1, 1, 1, 1, 0, 1]);
  const m = reid(cosineScores(q, g, 2), ['A'], ['B', 'A', 'C']);
  assert.equal(m.rank1, 0);
  assert.equal(m.rank2, 1);
  close(m.mAP, 0.5);
});

test('cosine rows match a direct computation past the blocks of four, with exact ties for equal rows', () => {
  const d = 3;
  const gallery = [
    [1, 2, 3],
    [-1, 0.5, 2],
    [0.3, -0.7, 0.1],
    [4, 4, -1],
    [1, 2, 3], // equal to row 0, but scored outside the block of four
    [2, 0, 1],
  ];
  const query = [0.5, -1, 2];
  const row = new Float64Array(gallery.length);
  cosineScores(new Float32Array(query), new Float32Array(gallery.flat()), d)(0, row);
  const norm = (v: number[]) => Math.hypot(...v);
  gallery.forEach((g, i) => {
    const cos = g.reduce((s, x, k) => s + x * query[k]!, 0) / (norm(g) * norm(query));
    close(row[i]!, cos, 1e-6);
  });
  assert.equal(row[4], row[0]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scoreSlide, subtypingMarkdown, summariseSubtyping, type ClassSet } from './slide-subtyping.ts';

// Two classes in a 2-D embedding space: LUAD along x, LUSC along y. Set B lists them in the other
// order (order must not matter); set C swaps the embeddings (a bad prompt set: everything inverted).
const sets: ClassSet[] = [
  { id: 'A', labels: ['LUAD', 'LUSC'], dim: 2, matrix: Float32Array.from([1, 0, 0, 1]), captions: [] },
  { id: 'B', labels: ['LUSC', 'LUAD'], dim: 2, matrix: Float32Array.from([0, 1, 1, 0]), captions: [] },
  { id: 'C', labels: ['LUAD', 'LUSC'], dim: 2, matrix: Float32Array.from([0, 1, 1, 0]), captions: [] },
];

const slides = [
  { slide: 's1', label: 'LUAD', features: [5, 0, 4, 3] }, // unnormalised, as CLAM files hold them
  { slide: 's2', label: 'LUSC', features: [0, 1, 0.6, 0.8] },
  // One patch all LUAD (cos 1 / 0), two leaning LUSC (0.28 / 0.96): K=1 says LUAD, K=2 says LUSC
  // (1 + 0.28 = 1.28 against 0.96 + 0.96 = 1.92).
  { slide: 's3', label: 'LUAD', features: [1, 0, 0.28, 0.96, 0.28, 0.96] },
];

function scored() {
  return slides.map((s) => ({
    slide: s.slide,
    label: s.label,
    sets: scoreSlide(Float32Array.from(s.features), s.features.length / 2, 2, sets, [1, 2], 'sum'),
  }));
}

test('per-set predictions follow the pooled scores, whatever the set’s class order', () => {
  const [s1, , s3] = scored();
  assert.deepEqual(
    s1!.sets.map((s) => s.predicted),
    [
      ['LUAD', 'LUAD'],
      ['LUAD', 'LUAD'],
      ['LUSC', 'LUSC'],
    ],
  );
  assert.deepEqual(
    s3!.sets.map((s) => s.predicted),
    [
      ['LUAD', 'LUSC'],
      ['LUAD', 'LUSC'],
      ['LUSC', 'LUAD'],
    ],
  );
  // Set A, K=2, s3: LUAD 1 + 0.28, LUSC 0.96 + 0.96 (cosines: the features are unit rows already).
  assert.ok(Math.abs(s3!.sets[0]!.pooled[1]![0]! - 1.28) < 1e-6);
  assert.ok(Math.abs(s3!.sets[1]!.pooled[1]![0]! - 1.92) < 1e-6);
  // s1 (5, 0) and (4, 3) are scored as (1, 0) and (0.8, 0.6): set A, K=2 sums 1.8 and 0.6.
  assert.deepEqual(
    Array.from(s1!.sets[0]!.pooled[1]!, (v) => Math.round(v * 1e6) / 1e6),
    [1.8, 0.6],
  );
});

test('balanced accuracy per set and K, median and quartiles over sets, majority per slide', () => {
  const summary = summariseSubtyping(scored(), sets, [1, 2], 'sum');
  // K=1: A and B get all three right (1), C gets none (0). K=2: A and B miss s3: recalls LUAD ½,
  // LUSC 1 → 0.75; C gets only s3: LUAD ½, LUSC 0 → 0.25. numpy quantiles of three values.
  assert.deepEqual(summary.balancedAccuracy, [
    { k: 1, perSet: [1, 1, 0], summary: { median: 1, q1: 0.5, q3: 1 } },
    { k: 2, perSet: [0.75, 0.75, 0.25], summary: { median: 0.75, q1: 0.5, q3: 0.75 } },
  ]);
  assert.equal(summary.nSets, 3);
  assert.equal(summary.nSlides, 3);
  assert.deepEqual(summary.slides[2], {
    slide: 's3',
    label: 'LUAD',
    byK: [
      { k: 1, majority: 'LUAD', correctShare: 2 / 3 },
      { k: 2, majority: 'LUSC', correctShare: 1 / 3 },
    ],
  });
  const md = subtypingMarkdown(summary);
  assert.match(md, /\| 1 \| 1\.000 \| 0\.500 \| 1\.000 \|/);
  assert.match(md, /\| 2 \| 0\.750 \| 0\.500 \| 0\.750 \|/);
  assert.match(md, /\| s3 \| LUAD \| LUAD \(67%\) \| LUSC \(33%\) \|/);
});

test('labels no prompt set names, and mismatched embeddings, are errors', () => {
  const bad = [{ ...scored()[0]!, label: 'SCLC' }];
  assert.throws(
    () => summariseSubtyping(bad, sets, [1, 2], 'sum'),
    /slide s1 is labelled "SCLC", which prompt set A does not name/,
  );
  assert.throws(() => summariseSubtyping([], sets, [1], 'sum'), /no labelled slides/);
  assert.throws(
    () =>
      scoreSlide(
        new Float32Array(4),
        2,
        2,
        [{ id: 'X', labels: ['a', 'b'], dim: 2, matrix: new Float32Array(3), captions: [] }],
        [1],
        'sum',
      ),
    /prompt set X: 3 values is not 2 classes × 2/,
  );
});

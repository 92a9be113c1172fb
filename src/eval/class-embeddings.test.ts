import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePromptFile } from '../data/prompt-sets.ts';
import {
  TextEmbeddingCache,
  argmaxRows,
  classEmbeddings,
  cosineScores,
  normaliseRows,
  softmaxRows,
} from './class-embeddings.ts';
import { fakeColourModel } from './testing.ts';

const near = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6): void => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `[${i}] ${a[i]} vs ${b[i]}`);
};

test('one caption per class: the class embedding is that caption’s normalised embedding', async () => {
  const model = fakeColourModel();
  const [set] = parsePromptFile(
    { '0': { classnames: { R: 'red tissue', Y: 'yellow tissue' }, templates: 'a CLASSNAME.' } },
    'p',
  );
  const ce = await classEmbeddings(set!, new TextEmbeddingCache(model));
  assert.deepEqual(ce.labels, ['R', 'Y']);
  assert.deepEqual(ce.captions, [['a red tissue.'], ['a yellow tissue.']]);
  near(ce.matrix, [1, 0, 0, 0, Math.SQRT1_2, Math.SQRT1_2, 0, 0]);
});

test('template ensembles: mean of the normalised caption embeddings, re-normalised', async () => {
  const model = fakeColourModel();
  const [set] = parsePromptFile(
    {
      '0': { classnames: { A: ['red', 'yellow'], B: 'blue' }, templates: ['CLASSNAME.', 'a CLASSNAME cell'] },
    },
    'p',
  );
  const ce = await classEmbeddings(set!, new TextEmbeddingCache(model));
  assert.deepEqual(ce.captions[0], ['red.', 'yellow.', 'a red cell', 'a yellow cell']);
  // red = (1,0,0,0), yellow = (1,1,0,0)/√2: mean (1+1/√2, 1/√2)/2, then unit length.
  const [x, y] = [1 + Math.SQRT1_2, Math.SQRT1_2];
  const n = Math.hypot(x, y);
  near(ce.matrix.subarray(0, 4), [x / n, y / n, 0, 0]);
  near(ce.matrix.subarray(4, 8), [0, 0, 1, 0]);
});

test('the text cache embeds each distinct string once, in batches', async () => {
  const model = fakeColourModel();
  const cache = new TextEmbeddingCache(model, 2);
  const a = await cache.embed(['red', 'blue', 'red', 'green', 'crimson']);
  assert.deepEqual(model.textCalls, [
    ['red', 'blue'],
    ['green', 'crimson'],
  ]);
  near(a.subarray(0, 4), a.subarray(8, 12));
  await cache.embed(['blue', 'violet']);
  assert.deepEqual(model.textCalls.at(-1), ['violet']);
  assert.equal(cache.embedded, 5);
  assert.equal(cache.reused, 2);
  const bad = { embedDim: 4, embedTexts: async () => new Float32Array(3) };
  await assert.rejects(
    new TextEmbeddingCache(bad).embed(['x']),
    /returned 3 values for 1 texts of dimension 4/,
  );
});

test('cosine scores, argmax (first on ties), softmax with the scale, row normalisation', () => {
  const classes = { labels: ['a', 'b'], dim: 2, matrix: new Float32Array([1, 0, 0, 1]), captions: [] };
  const feats = new Float32Array([0.6, 0.8, 1, 0, Math.SQRT1_2, Math.SQRT1_2]);
  const s = cosineScores(feats, classes);
  near(s, [0.6, 0.8, 1, 0, Math.SQRT1_2, Math.SQRT1_2]);
  assert.deepEqual([...argmaxRows(s, 2)], [1, 0, 0]);
  const p = softmaxRows(new Float32Array([0, Math.log(3) / 10]), 2, 10);
  near(p, [0.25, 0.75]);
  near(normaliseRows(new Float32Array([3, 4, 0, 0]), 2), [0.6, 0.8, 0, 0]);
  assert.throws(() => normaliseRows(new Float32Array(3), 2), /not rows of 2/);
});

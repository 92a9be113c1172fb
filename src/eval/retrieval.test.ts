import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { crossModalRetrieval, retrievalFromSimilarity } from './retrieval.ts';

test('Recall@K by hand on a 3×3 similarity', () => {
  // Rows are images, columns texts; the right text is on the diagonal.
  //   image 0: 0.9 0.1 0.2  → its caption ranks 1
  //   image 1: 0.8 0.5 0.7  → ranks 3 (0.8 and 0.7 above 0.5)
  //   image 2: 0.1 0.9 0.3  → ranks 2
  // text→image, by columns: text 0: 0.9 0.8 0.1 → 1; text 1: 0.1 0.5 0.9 → 2; text 2: 0.2 0.7 0.3 → 2
  const r = retrievalFromSimilarity([0.9, 0.1, 0.2, 0.8, 0.5, 0.7, 0.1, 0.9, 0.3], 3, [1, 2, 3]);
  assert.deepEqual(r.image_to_text, { 'R@1': 1 / 3, 'R@2': 2 / 3, 'R@3': 1 });
  assert.deepEqual(r.text_to_image, { 'R@1': 1 / 3, 'R@2': 1, 'R@3': 1 });
  assert.deepEqual(r.median_rank, { image_to_text: 2, text_to_image: 2 });
  assert.equal(r.n_pairs, 3);
});

test('ties count against the query: identical embeddings give R@1 = 0, not 1', () => {
  const same = new Float32Array([1, 0, 1, 0, 1, 0]);
  const r = crossModalRetrieval(same, same, 2, [1, 3]);
  assert.deepEqual(r.image_to_text, { 'R@1': 0, 'R@3': 1 });
  assert.deepEqual(r.text_to_image, { 'R@1': 0, 'R@3': 1 });
});

test('features: perfect pairs give recall 1; swapped captions are found at rank 2', () => {
  const e = (a: number) => [Math.cos(a), Math.sin(a)];
  const angles = [0, 0.3, 1.2, 2];
  const images = new Float32Array([0, 1, 2, 3].flatMap((k) => e(angles[k]!)));
  assert.equal(crossModalRetrieval(images, images, 2).image_to_text['R@1'], 1);
  const texts = new Float32Array([1, 0, 2, 3].flatMap((k) => e(angles[k]!)));
  const r = crossModalRetrieval(images, texts, 2, [1, 2]);
  assert.deepEqual(r.image_to_text, { 'R@1': 0.5, 'R@2': 1 });
  assert.deepEqual(r.text_to_image, { 'R@1': 0.5, 'R@2': 1 });
  assert.throws(() => crossModalRetrieval(images, texts.subarray(2), 2), /not 1:1 rows of 2/);
});

test('agrees with the numpy ranks of 8 random similarity matrices full of ties', () => {
  const fixture = JSON.parse(
    readFileSync(new URL('./fixtures/classification-metrics.json', import.meta.url), 'utf8'),
  ) as {
    retrieval: {
      similarity: number[][];
      image_to_text: Record<string, number>;
      text_to_image: Record<string, number>;
    }[];
  };
  for (const c of fixture.retrieval) {
    const n = c.similarity.length;
    const r = retrievalFromSimilarity(c.similarity.flat(), n);
    for (const k of ['1', '10', '50']) {
      assert.equal(r.image_to_text[`R@${k}`], c.image_to_text[k], `n ${n} i2t R@${k}`);
      assert.equal(r.text_to_image[`R@${k}`], c.text_to_image[k], `n ${n} t2i R@${k}`);
    }
  }
});
